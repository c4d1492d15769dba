"""A one-command task's first attempt started by `run_job` itself: the rules of what happens after the
`batch_start` call (table-driven), and `run_job` / `run_task` driven on the fake context around them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from jobclusters.execution.ids import attempt_instance_id, task_instance_id
from jobclusters.execution.messages import TaskOutcome, TaskRunInput
from jobclusters.run_request import CANCEL_EVENT
from jobclusters.spec.model import Task, TaskState
from orchestrators import run_job, run_task
from orchestrators.common import iso
from orchestrators.quick_batch import QuickStart, after_quick
from tests.unit.orchestrators.fake_context import FakeContext, FakeTask, drive
from tests.unit.orchestrators.script import START, Script, batch_started, command, request, run_job_script

STARTED = iso(START)
RETRY_ONCE = {"max_retries": 1, "min_retry_interval_millis": 30_000}


def _quick(retry: dict[str, Any] | None = None) -> QuickStart:
    task = Task.model_validate(command("a", retry=retry or {}))
    run = TaskRunInput(run_id="run-1", control_id="run-1", job_id="j", job_name="j", task=task)
    run = run.model_copy(update={"pool_owner": "run-1"})
    return QuickStart(run=run, child_id="run-1:a:r0", started=STARTED, deadline=None)


def _ended(state: str, message: str | None = None) -> dict[str, Any]:
    return batch_started({"state": state, "message": message, "start": STARTED, "end": STARTED})


NOT_PREPARED = {"prepare": {"error": "the pool spec is invalid"}}
NO_WAIT = {"prepare": {"job_id": "job-1"}}


@pytest.mark.parametrize(
    ("case", "retry", "result", "stopped", "expected"),
    [
        ("ended", None, _ended("SUCCESS"), False, "settled SUCCESS"),
        ("ended, no retry left", None, _ended("FAILED", "exit 1"), False, "settled FAILED"),
        ("ended, a retry due", RETRY_ONCE, _ended("FAILED", "exit 1"), False, "run_task retries"),
        ("ended, a retry due, stopped", RETRY_ONCE, _ended("FAILED", "exit 1"), True, "settled FAILED"),
        ("still running", None, batch_started(None), False, "run_task polls"),
        ("not waited for (Azure)", None, NO_WAIT, False, "run_task polls"),
        ("not prepared", None, NOT_PREPARED, False, "run_task starts over"),
        ("the activity failed", None, RuntimeError("storage is down"), False, "run_task starts over"),
    ],
)
def test_what_follows_a_quick_start(
    case: str, retry: dict[str, Any] | None, result: Any, stopped: bool, expected: str
) -> None:
    quick = _quick(retry)

    taken = after_quick(quick, result, stopped)

    if isinstance(taken, TaskOutcome):
        assert f"settled {taken.state.value}" == expected, case
        assert taken.attempts == 1
        return
    assert isinstance(taken, TaskRunInput), case
    if taken.retry_after is not None:
        assert expected == "run_task retries", case
        assert (taken.retries_done, taken.retry_after.state, taken.first_start) == (1, "FAILED", STARTED)
    elif taken.inline is not None:
        assert expected == "run_task polls", case
        inline = taken.inline
        assert (inline.attempt, inline.started, inline.fanout.job_id) == (0, STARTED, "job-1")
    else:
        assert expected == "run_task starts over", case
        assert taken == quick.run


def _script(**overrides: Any) -> Script:
    return run_job_script(**{"batch_start": _ended("SUCCESS"), **overrides})


CHAIN = {"name": "chain", "tasks": [command("a"), command("b", depends_on=[{"task_key": "a"}])]}


def test_a_chain_of_commands_that_end_in_their_start_runs_without_run_task_or_timers() -> None:
    req = request(CHAIN)
    ctx = FakeContext(req.model_dump(mode="json"), now=START, instance_id=req.run_id)

    output = drive(run_job.run_job, ctx, _script())

    assert output["result"] == "SUCCESS" and output["tasks"]["b"]["attempts"] == 1
    starts = ctx.inputs("batch_start")
    for key, start in zip("ab", starts, strict=True):
        child = task_instance_id(req.run_id, key)
        assert start["attempt_id"] == attempt_instance_id(child, 0), "the ids run_task would use"
        assert (start["owner"], start["signal_to"]) == (req.run_id, child)
        assert start["row"]["rows"][0]["state"] == "RUNNING"
    assert ctx.names("orchestrator") == []
    assert ctx.timers == [], "a wave of quick starts needs no zero-delay timer"
    assert ctx.inputs("record_task_runs") == [], "the start recorded the task's rows"


def test_a_task_still_running_after_its_start_goes_on_in_run_task_with_the_same_attempt() -> None:
    req = request({"name": "one", "tasks": [command("a", timeout_seconds=60)]})
    ctx = FakeContext(req.model_dump(mode="json"), now=START, instance_id=req.run_id)
    script = _script(batch_start=batch_started(None), run_task={"state": "SUCCESS", "attempts": 1})

    output = drive(run_job.run_job, ctx, script)

    assert output["result"] == "SUCCESS"
    (child,) = [c for c in ctx.calls if c.kind == "orchestrator"]
    assert (child.name, child.instance_id) == ("run_task", task_instance_id(req.run_id, "a"))
    inline = child.input["inline"]
    assert (inline["attempt"], inline["fanout"]["job_id"]) == (0, "job-1")
    assert inline["deadline"] == iso(START + timedelta(seconds=60))
    assert child.input["pool_owner"] == req.run_id, "the pool stays owned by who created it"
    assert START in ctx.timers, "the wave that hands over gets the timer that lets it be scheduled"


def test_a_cancel_during_a_quick_start_waits_for_it_and_run_task_ends_the_attempt() -> None:
    req = request(CHAIN)
    ctx = FakeContext(req.model_dump(mode="json"), now=START, instance_id=req.run_id)
    ctx.raise_event(CANCEL_EVENT, "stop it")
    script = _script(
        batch_start=batch_started(None),
        run_task={"state": "CANCELED", "attempts": 1, "message": "the run was canceled"},
    )

    output = drive(run_job.run_job, ctx, script)

    assert output["result"] == "CANCELED"
    assert ctx.names().count("request_run_cancel") == 1
    (child,) = [c for c in ctx.calls if c.kind == "orchestrator"]
    assert child.input["inline"] is not None, "run_task takes the running attempt over and ends it"
    assert output["tasks"]["a"]["state"] == "CANCELED" and output["tasks"]["a"]["attempts"] == 1
    assert "stop it" in output["tasks"]["a"]["message"], "the user's reason, as for tasks running at the stop"
    assert output["tasks"]["b"]["state"] in ("CANCELED", "UPSTREAM_CANCELED")
    assert len(ctx.inputs("batch_start")) == 1, "nothing starts after the cancel"


def test_a_quick_start_that_ended_canceled_after_the_stop_shows_the_users_reason() -> None:
    req = request(CHAIN)
    ctx = FakeContext(req.model_dump(mode="json"), now=START, instance_id=req.run_id)
    ctx.raise_event(CANCEL_EVENT, "stop it")
    canceled = _ended("CANCELED", "the run was canceled; the Batch job was terminated")

    output = drive(run_job.run_job, ctx, _script(batch_start=canceled))

    assert output["tasks"]["a"]["state"] == "CANCELED"
    assert "stop it" in output["tasks"]["a"]["message"], "as for the tasks running at the stop"
    assert ctx.names("orchestrator") == []


def test_run_task_handed_a_failed_first_attempt_waits_the_retry_interval_then_runs_the_second() -> None:
    quick = _quick(RETRY_ONCE)
    taken = after_quick(quick, _ended("FAILED", "exit 1"), stopped=False)
    assert isinstance(taken, TaskRunInput)
    ctx = FakeContext(taken.model_dump(mode="json"), now=START, instance_id=quick.child_id)
    statuses: list[Any] = []

    def answer(task: FakeTask) -> Any:
        statuses.append(ctx.statuses[-1])
        assert task.input["attempt"] == 1
        assert task.input["owner"] == "run-1", "the quick start's owner keeps the pools"
        assert task.input["attempt_id"] == attempt_instance_id(quick.child_id, 1)
        return _ended("SUCCESS")

    output = drive(run_task.run_task, ctx, answer)

    assert ctx.timers == [START + timedelta(milliseconds=30_000)]
    assert statuses[0]["state"] == "RUNNING" and statuses[0]["attempts"] == 2
    waiting = next(s for s in ctx.statuses if s["state"] == TaskState.WAITING_FOR_RETRY.value)
    assert waiting["message"] == "exit 1" and waiting["retry_at"] == iso(START + timedelta(seconds=30))
    assert (output["state"], output["attempts"], output["start"]) == ("SUCCESS", 2, STARTED)
