"""The local executors tell when work ends, and the signal reaches the host's Durable HTTP API."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from activities.batch import _ended_within_first_interval
from jobclusters.execution.messages import BatchPrepareResult
from jobclusters.execution.polling import PollSchedule
from jobclusters.services.batch import JobSpec, PoolPlacement, PoolSpec, TaskCounts, TaskSpec
from jobclusters.services.cluster import LifeCycle, parse_run_request
from jobclusters.services.local_batch import LocalBatchService
from jobclusters.services.local_cluster import LocalClusterJobService
from jobclusters.services.work_signals import EventRaiser
from tests.eventually import eventually
from tests.loopback import loopback

pytestmark = pytest.mark.integration


@pytest.fixture
def batch(tmp_path: Path) -> Iterator[LocalBatchService]:
    with LocalBatchService(tmp_path / "state", max_slots=2) as service:
        yield service


def _job(svc: LocalBatchService, commands: list[str]) -> None:
    spec = PoolSpec(id="pool", vm_size="local", target_dedicated_nodes=1, task_slots_per_node=2)
    ref = svc.ensure_pool(PoolPlacement(mode="onDemand", pool=spec), owner="a")
    svc.create_job(JobSpec(id="job", pool_info=ref.pool_info()))
    tasks = [TaskSpec.model_validate({"id": f"t{i}", "commandLine": c}) for i, c in enumerate(commands)]
    svc.add_tasks("job", tasks)


def test_a_batch_job_signals_once_all_its_tasks_have_ended(batch: LocalBatchService) -> None:
    _job(batch, ["true", "sleep 0.3"])
    seen: list[TaskCounts] = []
    batch.when_job_done("job", lambda: seen.append(batch.get_task_counts("job")))
    batch.when_job_done("job", lambda: seen.append(batch.get_task_counts("job")))

    eventually(lambda: seen or None, timeout=15, what="the job's end signal")
    # the counts at the moment of the signal: every task had ended (ground truth, not the clock)
    assert seen[0].completed == 2 and seen[0].done
    after: list[bool] = []
    batch.when_job_done("job", lambda: after.append(True))  # already done: at once
    assert after == [True]


def test_a_local_cluster_run_signals_when_it_ends(tmp_path: Path) -> None:
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    (jobs / "quick.py").write_text("print('hi')\n")
    svc = LocalClusterJobService(tmp_path / "state", max_local_cores=2)
    try:
        request = parse_run_request(
            {
                "run_id": "r",
                "base_dir": str(jobs),
                "tasks": [{"task_key": "q", "spark_python_task": {"python_file": "quick.py"}}],
            }
        )
        handle = svc.submit(request, "key-1")
        states: list[LifeCycle] = []
        svc.when_run_ends(handle.run_id, lambda: states.append(svc.get_state(handle).life_cycle))
        eventually(lambda: states or None, timeout=60, what="the run's end signal")
        assert states == [LifeCycle.TERMINATED]
    finally:
        svc.close(wait=False)


def test_the_signal_is_posted_to_the_send_event_uri_of_the_client_binding() -> None:
    with loopback(lambda method, path, headers, body: (202, None)) as (origin, seen):
        base = f"{origin}/runtime/webhooks/durabletask/instances/INSTANCEID"
        binding = json.dumps(
            {"managementUrls": {"sendEventPostUri": f"{base}/raiseEvent/{{eventName}}?taskHub=h&code=k"}}
        )
        raiser = EventRaiser.from_binding(binding)
        assert raiser is not None
        raiser.notifier("run-1:t:r0:a0", "work_ended")()

        eventually(lambda: seen or None, timeout=10, what="the raised event")
        method, path, _, body = seen[0]
        assert method == "POST"
        assert path == (
            "/runtime/webhooks/durabletask/instances/run-1%3At%3Ar0%3Aa0/raiseEvent/work_ended?taskHub=h&code=k"
        )
        assert body is None


@pytest.mark.parametrize("binding", [None, "", "not json", json.dumps({"managementUrls": {}})])
def test_no_usable_client_binding_means_no_signal_and_polling_alone(binding: Any) -> None:
    assert EventRaiser.from_binding(binding) is None


class _Asked:
    """A service that signals, recording whether it was asked to."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def when_job_done(self, job_id: str, notify: Any) -> None:
        self.asked.append(job_id)


def _prepared(signaled: bool, first_seconds: float = 60.0) -> BatchPrepareResult:
    return BatchPrepareResult(job_id="job", poll=PollSchedule(first_seconds=first_seconds, signaled=signaled))


def test_a_start_waits_out_the_first_interval_for_a_quick_task_to_end(batch: LocalBatchService) -> None:
    _job(batch, ["true"])

    assert _ended_within_first_interval(batch, _prepared(signaled=True), deadline=None)
    assert batch.get_task_counts("job").completed == 1, "it ended: the start can make the first poll"


def test_a_start_does_not_wait_where_nothing_signals_or_past_the_deadline() -> None:
    service = _Asked()
    past = datetime.now(UTC).isoformat()

    assert not _ended_within_first_interval(service, _prepared(signaled=False), deadline=None)  # type: ignore[arg-type]
    assert not _ended_within_first_interval(service, _prepared(signaled=True), deadline=past)  # type: ignore[arg-type]
    assert service.asked == [], "Azure mode, and an attempt out of time, never wait on a signal"
