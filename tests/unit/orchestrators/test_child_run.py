"""`child_run` on a fake context: the link row, polls with growing intervals, the task's deadline passed on
to the child as a cancel (TIMEDOUT), waitOnCompletion false, a refused start, and continue-as-new."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from jobclusters.execution.messages import AttemptInput, TaskRunInput
from jobclusters.execution.polling import CHILD_POLL, POLLS_PER_EXECUTION
from jobclusters.spec.model import Task
from orchestrators import child_run
from tests.unit.orchestrators.fake_context import FakeContext, drive
from tests.unit.orchestrators.script import START, Script

STARTED = {"child_run_id": "run-kid"}


def _attempt(payload: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    task = Task.model_validate(
        {
            "key": "call",
            "payload": {"kind": "run_job", "job_id": "kid", **(payload or {})},
            "timeout_seconds": 60,
        }
    )
    run = TaskRunInput(run_id="run-1", control_id="run-1", job_id="j", job_name="J", task=task)
    return AttemptInput(run=run, attempt=0, instance_id="run-1:call:r0:a0", **fields).model_dump(mode="json")


def test_the_child_is_linked_on_the_task_row_and_its_end_is_the_tasks() -> None:
    ctx = FakeContext(_attempt(), now=START)
    polls = [{}, {}, {"done": True, "state": "SUCCESS", "values": {"child_run_id": "run-kid"}}]
    output = drive(
        child_run.child_run, ctx, Script(start_child_run=STARTED, record_task_runs=1, poll_child_run=polls)
    )
    assert (output["state"], output["child_run_id"]) == ("SUCCESS", "run-kid")
    (link,) = [b["rows"][0] for b in ctx.inputs("record_task_runs")]
    assert (link["state"], link["child_run_id"], link["attempt"]) == ("RUNNING", "run-kid", 1)
    gaps = [(b - a).total_seconds() for a, b in zip([START, *ctx.timers], ctx.timers, strict=False)]
    assert gaps == [CHILD_POLL.next_interval(None), 3.0, 4.5]
    assert all(p["stop_reason"] is None for p in ctx.inputs("poll_child_run"))


def test_at_the_deadline_the_child_is_canceled_and_the_task_times_out() -> None:
    ctx = FakeContext(_attempt(deadline=(START + timedelta(seconds=5)).isoformat()), now=START)
    polls = [{}, {"cancel_sent": True}, {}, {"done": True, "state": "CANCELED", "message": "canceled"}]
    output = drive(
        child_run.child_run, ctx, Script(start_child_run=STARTED, record_task_runs=1, poll_child_run=polls)
    )
    assert output["state"] == "TIMEDOUT"
    assert output["message"].startswith("the parent task timed out after 0:01:00")
    asked = ctx.inputs("poll_child_run")
    assert [p["stop_reason"] is not None for p in asked] == [False, True, True, True]
    assert [p["cancel_sent"] for p in asked] == [False, False, True, True]
    assert ctx.timers[1] == START + timedelta(seconds=5)  # the poll timer never passes the deadline


def test_without_waiting_the_task_succeeds_once_the_child_started() -> None:
    ctx = FakeContext(_attempt({"wait_on_completion": False}), now=START)
    output = drive(child_run.child_run, ctx, Script(start_child_run=STARTED, record_task_runs=1))
    assert (output["state"], output["child_run_id"]) == ("SUCCESS", "run-kid")
    assert ctx.names() == ["start_child_run", "record_task_runs"]


def test_a_refused_start_fails_the_task_with_the_reason() -> None:
    ctx = FakeContext(_attempt(), now=START)
    refused = {"error": "job 'kid' runs itself (kid -> kid): refused"}
    output = drive(child_run.child_run, ctx, Script(start_child_run=refused))
    assert (output["state"], output["message"]) == ("FAILED", refused["error"])


def test_a_long_child_continues_as_new_with_its_state() -> None:
    ctx = FakeContext(_attempt(), now=START)
    drive(child_run.child_run, ctx, Script(start_child_run=STARTED, record_task_runs=1, poll_child_run={}))
    carried = AttemptInput.model_validate(ctx.continued_with)
    assert carried.child is not None
    assert (carried.child.child_run_id, carried.child.polls) == ("run-kid", POLLS_PER_EXECUTION)
    assert carried.child.interval == CHILD_POLL.max_seconds
