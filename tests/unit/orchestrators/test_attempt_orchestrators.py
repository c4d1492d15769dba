"""`run_task`, `cluster_run` and `batch_fanout` driven on a fake context: retries with backoff, deadlines,
cancels and the continue-as-new of the poll loops."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from jobclusters.execution.ids import attempt_instance_id
from jobclusters.execution.messages import AttemptInput, TaskRunInput
from jobclusters.execution.polling import BATCH_POLL, CLUSTER_POLL, POLLS_PER_EXECUTION
from jobclusters.execution.retry import retry_delay_millis
from jobclusters.spec.model import Task
from orchestrators import batch_fanout, cluster_run, run_task
from orchestrators.run_task import ATTEMPTS_PER_EXECUTION
from tests.unit.orchestrators.fake_context import FakeContext, drive
from tests.unit.orchestrators.script import START, Script, command, spark

HANDLE = {"backend": "local", "run_id": "remote-7", "idempotency_key": "k"}


def _task_input(task: dict[str, Any], **fields: Any) -> TaskRunInput:
    return TaskRunInput(
        run_id="run-1", control_id="run-1", job_id="j", job_name="J", task=Task.model_validate(task), **fields
    )


def _attempt(task: dict[str, Any], **fields: Any) -> dict[str, Any]:
    attempt = AttemptInput(run=_task_input(task), attempt=0, instance_id="run-1:t:r0:a0", **fields)
    return attempt.model_dump(mode="json")


def _gaps(start: datetime, timers: list[datetime]) -> list[float]:
    """Seconds between consecutive timers (the first from `start`): each timer fires before the next."""
    return [(b - a).total_seconds() for a, b in zip([start, *timers], timers, strict=False)]


def _failed(_: Any) -> dict[str, Any]:
    return {"state": "FAILED", "message": "exit code 1"}


# ---------------------------------------------------------------------------------------------- run_task


def test_failed_attempts_are_retried_after_the_policys_exponential_capped_delays() -> None:
    retry = {
        "max_retries": 3,
        "min_retry_interval_millis": 1000,
        "backoff": "exponential",
        "backoff_multiplier": 2.0,
        "max_retry_interval_millis": 3000,
    }
    run = _task_input(spark("t", retry=retry))
    ctx = FakeContext(run.model_dump(mode="json"), now=START, instance_id="run-1:t:r0")
    attempts = [_failed, _failed, _failed, {"state": "SUCCESS"}]

    output = drive(run_task.run_task, ctx, Script(cluster_run=attempts, record_task_runs=1))

    assert output["state"] == "SUCCESS" and output["attempts"] == 4
    assert output["start"] == START.isoformat()
    delays = [round(gap * 1000) for gap in _gaps(START, ctx.timers)]
    assert delays == [1000, 2000, 3000]
    assert delays == [retry_delay_millis(run.task.retry, n) for n in (1, 2, 3)]
    children = [c for c in ctx.calls if c.kind == "orchestrator"]
    assert [c.instance_id for c in children] == [attempt_instance_id("run-1:t:r0", n) for n in range(4)]
    assert {c.name for c in children} == {"cluster_run"}
    rows = [r["rows"][0] for r in ctx.inputs("record_task_runs")]
    assert [(r["attempt"], r["state"]) for r in rows] == [
        (1, "RUNNING"),
        (1, "FAILED"),
        (2, "RUNNING"),
        (2, "FAILED"),
        (3, "RUNNING"),
        (3, "FAILED"),
        (4, "RUNNING"),
        (4, "SUCCESS"),
    ]


def test_the_last_failure_is_final_and_a_crashed_attempt_counts_as_failed() -> None:
    run = _task_input(spark("t", retry={"max_retries": 1, "min_retry_interval_millis": 500}))
    ctx = FakeContext(run.model_dump(mode="json"), now=START, instance_id="run-1:t:r0")

    output = drive(
        run_task.run_task, ctx, Script(cluster_run=RuntimeError("host crashed"), record_task_runs=1)
    )

    assert output["state"] == "FAILED" and output["attempts"] == 2
    assert output["message"] == "host crashed"
    assert ctx.timers == [START + timedelta(milliseconds=500)]
    assert ctx.names("orchestrator") == ["cluster_run", "cluster_run"]


def test_a_one_command_attempt_that_crashes_counts_as_failed_and_is_retried_inline() -> None:
    """A command without a fan-out runs its attempts in run_task itself (no batch_fanout)."""
    run = _task_input(command("t", retry={"max_retries": 1, "min_retry_interval_millis": 500}))
    ctx = FakeContext(run.model_dump(mode="json"), now=START, instance_id="run-1:t:r0")

    crash = RuntimeError("Activity function 'batch_start' failed: AttributeError: host crashed")
    output = drive(run_task.run_task, ctx, Script(batch_start=crash, record_task_runs=1))

    assert output["state"] == "FAILED" and output["attempts"] == 2
    assert "host crashed" in output["message"]
    assert ctx.timers == [START + timedelta(milliseconds=500)]
    assert ctx.names("orchestrator") == []
    assert ctx.names() == ["batch_start", "record_task_runs", "batch_start", "record_task_runs"]
    # the sweeper frees a pool once its owner ended: the owner is run_task, not the attempt (no instance)
    assert [i["owner"] for i in ctx.inputs("batch_start")] == ["run-1:t:r0", "run-1:t:r0"]


def test_unbounded_retries_continue_as_new_with_the_attempts_done_and_the_first_start() -> None:
    run = _task_input(spark("t", retry={"max_retries": -1, "min_retry_interval_millis": 1000}))
    ctx = FakeContext(run.model_dump(mode="json"), now=START, instance_id="run-1:t:r0")

    assert drive(run_task.run_task, ctx, Script(cluster_run=_failed, record_task_runs=1)) == {}

    assert len(ctx.names("orchestrator")) == ATTEMPTS_PER_EXECUTION
    assert ctx.continued_with["retries_done"] == ATTEMPTS_PER_EXECUTION
    assert ctx.continued_with["first_start"] == START.isoformat()
    again = FakeContext(ctx.continued_with, now=ctx.now, instance_id="run-1:t:r0")
    output = drive(run_task.run_task, again, Script(cluster_run={"state": "SUCCESS"}, record_task_runs=1))
    assert output["attempts"] == ATTEMPTS_PER_EXECUTION + 1 and output["start"] == START.isoformat()
    first = again.calls[1]
    assert first.instance_id == attempt_instance_id("run-1:t:r0", ATTEMPTS_PER_EXECUTION)


# ---------------------------------------------------------------------------------------------- cluster_run


def _cluster_script(polls: list[Any], **more: Any) -> Script:
    answers: dict[str, Any] = {
        "cluster_submit": {"handle": HANDLE, "compute": "local"},
        "cluster_poll": polls,
        "cluster_finish": {"task_values": {"n": 1}, "log_ref": "logs/x"},
        "cluster_cancel": True,
    }
    return Script(**{**answers, **more})


def test_cluster_polls_with_growing_intervals_and_continues_as_new_with_its_handle() -> None:
    ctx = FakeContext(_attempt(spark("t")), now=START)
    running = {"terminal": False}

    assert drive(cluster_run.cluster_run, ctx, _cluster_script([running])) == {}

    assert ctx.names().count("cluster_poll") == POLLS_PER_EXECUTION
    state = ctx.continued_with["cluster"]
    assert state["polls"] == POLLS_PER_EXECUTION and state["handle"]["run_id"] == "remote-7"
    gaps = _gaps(START, ctx.timers)
    assert gaps[:3] == [CLUSTER_POLL.first_seconds, 7.5, 11.25]
    assert max(gaps) == CLUSTER_POLL.max_seconds

    again = FakeContext(ctx.continued_with, now=ctx.now)
    output = drive(cluster_run.cluster_run, again, _cluster_script([{"terminal": True, "state": "SUCCESS"}]))
    assert "cluster_submit" not in again.names(), "the handle carries over: nothing is submitted twice"
    assert (again.timers[0] - ctx.now).total_seconds() == CLUSTER_POLL.max_seconds
    assert output["state"] == "SUCCESS" and output["remote_id"] == "remote-7"
    assert output["task_values"] == {"n": 1} and output["details"] == {"polls": POLLS_PER_EXECUTION + 1}
    assert output["start"] == START.isoformat()


def test_at_the_deadline_the_remote_run_is_cancelled_and_the_attempt_times_out() -> None:
    deadline = START + timedelta(seconds=12)
    ctx = FakeContext(_attempt(spark("t", timeout_seconds=12), deadline=deadline.isoformat()), now=START)

    output = drive(cluster_run.cluster_run, ctx, _cluster_script([{"terminal": False}]))

    assert ctx.timers == [START + timedelta(seconds=5), deadline], "the poll timer stops at the deadline"
    assert ctx.names() == ["cluster_submit", "cluster_poll", "cluster_cancel", "cluster_finish"]
    assert output["state"] == "TIMEDOUT"
    assert output["message"] == "timed out after 0:00:12; the remote run was cancelled"
    assert ctx.inputs("cluster_cancel")[0]["handle"]["run_id"] == "remote-7"


def test_a_cancel_seen_at_submit_ends_the_attempt_canceled_without_polling() -> None:
    ctx = FakeContext(_attempt(spark("t")), now=START)

    output = drive(cluster_run.cluster_run, ctx, _cluster_script([], cluster_submit={"canceled": True}))

    assert output["state"] == "CANCELED" and ctx.names() == ["cluster_submit"]


# ---------------------------------------------------------------------------------------------- batch_fanout

POOL = {"mode": "onDemand", "pool_id": "p", "created": True}


def _batch_script(**more: Any) -> Script:
    answers: dict[str, Any] = {
        "plan_inputs": {"count": 3, "manifest": "manifests/m.json"},
        "batch_prepare": {"pool_ref": POOL, "job_id": "job-1", "compute": "pool p"},
        "batch_add_chunk": lambda inp: {"added": inp["end"] - inp["start"]},
        "batch_poll": {"active": 0, "running": 3, "completed": 0},
        "batch_finish": {"pool_deleted": True},
    }
    return Script(**{**answers, **more})


def test_fanout_plans_prepares_adds_then_continues_as_new_into_the_poll_phase() -> None:
    ctx = FakeContext(_attempt(command("t")), now=START)

    assert drive(batch_fanout.batch_fanout, ctx, _batch_script()) == {}

    assert ctx.names() == ["plan_inputs", "batch_prepare", "batch_add_chunk"]
    fanout = ctx.continued_with["fanout"]
    assert fanout["phase"] == "poll"
    assert {k: fanout["pool_ref"][k] for k in POOL} == POOL
    assert fanout["job_id"] == "job-1" and fanout["count"] == 3


def test_fanout_polls_continue_as_new_then_finish_deletes_the_pool() -> None:
    start = _attempt(command("t"))
    first = FakeContext(start, now=START)
    drive(batch_fanout.batch_fanout, first, _batch_script())

    polling = FakeContext(first.continued_with, now=first.now)
    assert drive(batch_fanout.batch_fanout, polling, _batch_script()) == {}
    assert polling.names().count("batch_poll") == POLLS_PER_EXECUTION
    assert polling.continued_with["fanout"]["polls"] == POLLS_PER_EXECUTION
    assert polling.continued_with["fanout"]["interval"] == BATCH_POLL.max_seconds

    done = {"active": 0, "running": 0, "completed": 3, "succeeded": 3}
    last = FakeContext(polling.continued_with, now=polling.now)
    output = drive(batch_fanout.batch_fanout, last, _batch_script(batch_poll=done))
    assert last.names() == ["batch_poll", "batch_finish"]
    finish = last.inputs("batch_finish")[0]
    assert finish["pool_ref"]["pool_id"] == "p" and finish["collect_failures"] is True
    assert output["state"] == "SUCCESS" and output["details"]["pool_deleted"] is True
    assert output["remote_id"] == "job-1"


def test_a_cancel_seen_at_prepare_skips_adding_and_finishes_without_collecting_failures() -> None:
    ctx = FakeContext(_attempt(command("t")), now=START)
    canceled = {"pool_ref": POOL, "job_id": "job-1", "canceled": True}

    output = drive(batch_fanout.batch_fanout, ctx, _batch_script(batch_prepare=canceled))

    assert ctx.names() == ["plan_inputs", "batch_prepare", "batch_finish"]
    assert ctx.inputs("batch_finish")[0]["collect_failures"] is False
    assert output["state"] == "CANCELED"
