"""Completion pushed, polling the fallback: `batch_fanout` and `cluster_run` wake on the executor's
`work_ended` event or their poll timer, whichever comes first; on Azure they wait on the timer alone."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from jobclusters.execution.messages import AttemptInput, TaskRunInput
from jobclusters.execution.polling import (
    BATCH_POLL,
    CLUSTER_POLL,
    WORK_ENDED,
    PollSchedule,
    schedule_from_settings,
)
from jobclusters.settings import Settings
from jobclusters.spec.model import Task
from orchestrators import batch_fanout, cluster_run
from tests.unit.orchestrators.fake_context import FakeContext, FakeTask, drive
from tests.unit.orchestrators.script import START, Script, command, spark

LOCAL = PollSchedule(first_seconds=0.5, factor=2.0, max_seconds=10.0, signaled=True)
AZURE = BATCH_POLL
POOL = {"mode": "onDemand", "pool_id": "p", "created": True}
HANDLE = {"backend": "local", "run_id": "remote-7", "idempotency_key": "k"}
RUNNING = {"active": 0, "running": 1, "completed": 0}
DONE = {"active": 0, "running": 0, "completed": 1, "succeeded": 1}


class WaitsRecorded(FakeContext):
    """The fake context, also counting the external events the orchestrator waits for."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.waited_for: list[str] = []

    def wait_for_external_event(self, name: str) -> FakeTask:
        self.waited_for.append(name)
        return super().wait_for_external_event(name)


def _polling_fanout(schedule: PollSchedule) -> dict[str, Any]:
    run = TaskRunInput(
        run_id="run-1", control_id="run-1", job_id="j", job_name="J", task=Task.model_validate(command("t"))
    )
    fanout = {
        "phase": "poll",
        "count": 1,
        "manifest": "m.json",
        "pool_ref": POOL,
        "job_id": "job-1",
        "poll": schedule.model_dump(),
    }
    attempt = AttemptInput.model_validate(
        {"run": run.model_dump(), "attempt": 0, "instance_id": "run-1:t:r0:a0", "fanout": fanout}
    )
    return attempt.model_dump(mode="json")


def _batch(**answers: Any) -> Script:
    return Script(batch_poll=answers.get("batch_poll", DONE), batch_finish={"pool_deleted": True})


def test_a_signal_wakes_the_fanout_at_once_and_the_poll_that_follows_decides() -> None:
    ctx = WaitsRecorded(_polling_fanout(LOCAL), now=START, instance_id="run-1:t:r0:a0")
    ctx.raise_event(WORK_ENDED)

    output = drive(batch_fanout.batch_fanout, ctx, _batch())

    assert output["state"] == "SUCCESS"
    assert ctx.now == START  # woke by the signal, not the timer
    assert ctx.names() == ["batch_poll", "batch_finish"]
    assert ctx.inputs("batch_poll")[0]["signal_to"] == "run-1:t:r0:a0"


def test_a_lost_signal_still_ends_the_task_by_polling() -> None:
    ctx = WaitsRecorded(_polling_fanout(LOCAL), now=START, instance_id="run-1:t:r0:a0")

    output = drive(batch_fanout.batch_fanout, ctx, _batch(batch_poll=[RUNNING, DONE]))

    assert output["state"] == "SUCCESS"
    assert ctx.waited_for == [WORK_ENDED, WORK_ENDED]
    # no event ever came: the poll timers fired, 0.5 s then 1 s, and the second poll saw the end
    assert ctx.timers == [START + timedelta(seconds=0.5), START + timedelta(seconds=1.5)]
    assert ctx.now == START + timedelta(seconds=1.5)


def test_azure_mode_never_waits_on_signals_for_batch() -> None:
    ctx = WaitsRecorded(_polling_fanout(AZURE), now=START, instance_id="run-1:t:r0:a0")
    ctx.raise_event(WORK_ENDED)  # even an event that somehow arrived is not waited for

    output = drive(batch_fanout.batch_fanout, ctx, _batch(batch_poll=[RUNNING, DONE]))

    assert output["state"] == "SUCCESS"
    assert ctx.waited_for == []
    assert ctx.timers == [START + timedelta(seconds=5.0), START + timedelta(seconds=12.5)]
    assert all(i["signal_to"] is None for i in ctx.inputs("batch_poll"))


def _cluster_attempt() -> dict[str, Any]:
    run = TaskRunInput(
        run_id="run-1", control_id="run-1", job_id="j", job_name="J", task=Task.model_validate(spark("t"))
    )
    return AttemptInput(run=run, attempt=0, instance_id="run-1:t:r0:a0").model_dump(mode="json")


def _cluster(schedule: PollSchedule | None, polls: list[dict[str, Any]]) -> Script:
    submitted: dict[str, Any] = {"handle": HANDLE}
    if schedule is not None:
        submitted["poll"] = schedule.model_dump()
    return Script(cluster_submit=submitted, cluster_poll=polls, cluster_finish={})


ENDED = {"terminal": True, "state": "SUCCESS"}
NOT_YET = {"terminal": False}


@pytest.mark.parametrize("signal", [True, False], ids=["signaled", "signal lost"])
def test_cluster_run_wakes_on_the_signal_or_else_its_poll_timer(signal: bool) -> None:
    ctx = WaitsRecorded(_cluster_attempt(), now=START, instance_id="run-1:t:r0:a0")
    if signal:
        ctx.raise_event(WORK_ENDED)

    output = drive(cluster_run.cluster_run, ctx, _cluster(LOCAL, [NOT_YET, ENDED] if not signal else [ENDED]))

    assert output["state"] == "SUCCESS"
    assert ctx.inputs("cluster_submit")[0]["signal_to"] == "run-1:t:r0:a0"
    assert ctx.now == (START if signal else START + timedelta(seconds=1.5))


def test_azure_mode_never_waits_on_signals_for_clusters() -> None:
    ctx = WaitsRecorded(_cluster_attempt(), now=START, instance_id="run-1:t:r0:a0")

    output = drive(cluster_run.cluster_run, ctx, _cluster(CLUSTER_POLL, [NOT_YET, ENDED]))

    assert output["state"] == "SUCCESS"
    assert ctx.waited_for == []
    assert ctx.now == START + timedelta(seconds=5.0 + 7.5)


def test_poll_schedules_are_settings_with_todays_values_for_services_that_do_not_signal() -> None:
    plain = Settings.from_mapping({"JOBCLUSTERS_MODE": "azure"})

    assert schedule_from_settings("batch", plain, signals=False) == PollSchedule(5.0, 1.5, 120.0)
    assert schedule_from_settings("cluster", plain, signals=False) == PollSchedule(5.0, 1.5, 300.0)
    for service in ("batch", "cluster"):
        assert not schedule_from_settings(service, plain, signals=False).signaled
        fast = schedule_from_settings(service, plain, signals=True)  # the local executors
        assert fast.signaled and fast.first_seconds < 1.0

    tuned = Settings.from_mapping(
        {
            "JOBCLUSTERS_MODE": "azure",
            "JOBCLUSTERS_CLUSTER_POLL_FIRST_SECONDS": "30",
            "JOBCLUSTERS_CLUSTER_POLL_FACTOR": "2",
            "JOBCLUSTERS_CLUSTER_POLL_MAX_SECONDS": "600",
        }
    )
    assert schedule_from_settings("cluster", tuned, signals=False) == PollSchedule(30.0, 2.0, 600.0)
    assert schedule_from_settings("batch", tuned, signals=False) == BATCH_POLL


def test_a_bad_poll_setting_is_refused_naming_the_setting() -> None:
    with pytest.raises(ValueError, match="JOBCLUSTERS_BATCH_POLL_FACTOR"):
        Settings.from_mapping({"JOBCLUSTERS_BATCH_POLL_FACTOR": "0.5"})


def test_only_the_local_executors_signal_so_azure_services_get_the_plain_poll_schedule() -> None:
    from jobclusters.services.azure_batch import AzureBatchService
    from jobclusters.services.databricks import DatabricksClusterJobService
    from jobclusters.services.livy import HDInsightClusterJobService
    from jobclusters.services.local_batch import LocalBatchService
    from jobclusters.services.local_cluster import LocalClusterJobService
    from jobclusters.services.synapse import SynapseClusterJobService
    from jobclusters.services.work_signals import SignalsJobEnd, SignalsRunEnd

    assert issubclass(LocalBatchService, SignalsJobEnd) and issubclass(LocalClusterJobService, SignalsRunEnd)
    assert not issubclass(AzureBatchService, SignalsJobEnd)
    for azure in (DatabricksClusterJobService, HDInsightClusterJobService, SynapseClusterJobService):
        assert not issubclass(azure, SignalsRunEnd)
