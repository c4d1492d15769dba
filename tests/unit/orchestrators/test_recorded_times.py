"""An attempt records the work's own start and end whatever the poll schedule, and the wait before the work
as `queue_seconds` (issue 11 defect 2): `sleep 6` was once recorded as 12.6 s, the time the polls saw."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from jobclusters.execution.messages import AttemptInput, TaskRunInput
from jobclusters.execution.polling import PollSchedule
from jobclusters.execution.work_times import attempt_times
from jobclusters.spec.model import Task
from orchestrators import batch_fanout, cluster_run, run_task
from tests.unit.orchestrators.fake_context import FakeContext, drive
from tests.unit.orchestrators.script import START, Script, command, spark

#: a schedule finer than the work and one far coarser: neither may change what is recorded
SCHEDULES = [PollSchedule(first_seconds=3.0, factor=1.0, max_seconds=3.0), PollSchedule(90.0, 2.0, 600.0)]
WORK_START = START + timedelta(seconds=40)  # a pool or cluster took 40 s to start
WORK_END = WORK_START + timedelta(seconds=6)  # `sleep 6`


def _attempt(task: dict[str, Any]) -> dict[str, Any]:
    run = TaskRunInput(
        run_id="run-1", control_id="run-1", job_id="j", job_name="J", task=Task.model_validate(task)
    )
    return AttemptInput(run=run, attempt=0, instance_id="run-1:t:r0:a0").model_dump(mode="json")


def _polls(ctx: FakeContext, *answers: tuple[timedelta, dict[str, Any]]) -> Any:
    """A poll answer by the fake clock: the last answer whose time (after START) has come."""
    return lambda _: next(a for at, a in reversed(answers) if ctx.now - START >= at)


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_a_fanout_records_its_tasks_first_start_to_last_end(
    schedule: PollSchedule, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(batch_fanout, "BATCH_POLL", schedule)
    first = FakeContext(_attempt(command("t")), now=START)
    script: dict[str, Any] = {
        "plan_inputs": {"count": 2, "manifest": "manifests/m.json"},
        "batch_prepare": {
            "pool_ref": {"mode": "onDemand", "pool_id": "p", "created": True},
            "job_id": "job-1",
        },
        "batch_add_chunk": lambda inp: {"added": inp["end"] - inp["start"]},
        "batch_finish": {"pool_deleted": True},
    }
    drive(batch_fanout.batch_fanout, first, Script(**script, batch_poll={"running": 2}))
    ctx = FakeContext(first.continued_with, now=first.now)
    done = {
        "completed": 2,
        "succeeded": 2,
        "work_start": WORK_START.isoformat(),
        "work_end": WORK_END.isoformat(),
    }
    polls = _polls(
        ctx, (timedelta(0), {"active": 2}), (WORK_START - START, {"running": 2}), (WORK_END - START, done)
    )

    output = drive(batch_fanout.batch_fanout, ctx, Script(**script, batch_poll=polls))

    assert output["state"] == "SUCCESS"
    assert (output["start"], output["end"]) == (WORK_START.isoformat(), WORK_END.isoformat())
    assert output["queue_seconds"] == 40.0
    assert ctx.now > WORK_END, "the polls saw the end later than it happened"


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_a_cluster_attempt_records_the_remote_runs_own_times(
    schedule: PollSchedule, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cluster_run, "CLUSTER_POLL", schedule)
    ctx = FakeContext(_attempt(spark("t")), now=START)
    running = {"terminal": False, "work_start": WORK_START.isoformat()}
    done = {**running, "terminal": True, "state": "SUCCESS", "work_end": WORK_END.isoformat()}
    polls = _polls(
        ctx, (timedelta(0), {"terminal": False}), (WORK_START - START, running), (WORK_END - START, done)
    )
    script = Script(
        cluster_submit={"handle": {"backend": "local", "run_id": "r-7", "idempotency_key": "k"}},
        cluster_poll=polls,
        cluster_finish={},
    )

    output = drive(cluster_run.cluster_run, ctx, script)

    assert output["state"] == "SUCCESS"
    assert (output["start"], output["end"]) == (WORK_START.isoformat(), WORK_END.isoformat())
    assert output["queue_seconds"] == 40.0
    assert ctx.now > WORK_END, "the polls saw the end later than it happened"


def test_a_task_starts_when_its_first_attempts_work_started_and_its_rows_keep_the_queue() -> None:
    run = TaskRunInput(
        run_id="run-1", control_id="run-1", job_id="j", job_name="J", task=Task.model_validate(spark("t"))
    )
    ctx = FakeContext(run.model_dump(mode="json"), now=START, instance_id="run-1:t:r0")
    outcome = {
        "state": "SUCCESS",
        "start": WORK_START.isoformat(),
        "end": WORK_END.isoformat(),
        "queue_seconds": 40.0,
    }

    output = drive(run_task.run_task, ctx, Script(cluster_run=outcome, record_task_runs=1))

    assert (output["start"], output["end"], output["queue_seconds"]) == (
        WORK_START.isoformat(),
        WORK_END.isoformat(),
        40.0,
    )
    final = ctx.inputs("record_task_runs")[-1]["rows"][0]
    assert (final["start"], final["end"], final["queue_seconds"]) == (
        WORK_START.isoformat(),
        WORK_END.isoformat(),
        40.0,
    )


def test_without_the_works_times_the_orchestrators_stand_and_no_queue_is_claimed() -> None:
    seen = START + timedelta(seconds=90)
    times = attempt_times(START.isoformat(), seen.isoformat(), None, None)
    assert (times.start, times.end, times.queue_seconds) == (START.isoformat(), seen.isoformat(), None)


def test_a_run_still_going_when_the_attempt_ended_keeps_its_start_and_the_observed_end() -> None:
    seen = START + timedelta(seconds=90)
    times = attempt_times(START.isoformat(), seen.isoformat(), WORK_START.isoformat(), None)
    assert (times.start, times.end, times.queue_seconds) == (WORK_START.isoformat(), seen.isoformat(), 40.0)


def test_a_service_clock_ahead_of_ours_never_makes_a_negative_queue_or_duration() -> None:
    early = START - timedelta(seconds=3)
    times = attempt_times(START.isoformat(), START.isoformat(), early.isoformat(), START.isoformat())
    assert times.queue_seconds == 0.0 and times.start == early.isoformat()
    late = START + timedelta(seconds=30)
    times = attempt_times(START.isoformat(), START.isoformat(), late.isoformat(), None)
    assert times.end == times.start == late.isoformat()
