"""`run_job` driven on a fake context: admission, the walk racing the timeout and the cancel event, repair."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from jobclusters.execution import registry
from jobclusters.execution.ids import task_instance_id
from jobclusters.execution.polling import QUEUE_POLL
from jobclusters.run_request import CANCEL_EVENT, RepairInfo
from jobclusters.spec.model import TaskState
from orchestrators import run_job
from orchestrators.common import storage_retry
from tests.unit.orchestrators.fake_context import PENDING, FakeContext, drive
from tests.unit.orchestrators.script import START, Script, request, run_job_script, spark

CHAIN = {"name": "chain", "tasks": [spark("a"), spark("b", depends_on=[{"task_key": "a"}])]}


def _ok(_: Any) -> dict[str, Any]:
    return {"state": "SUCCESS", "attempts": 1}


def _slot(claimed: bool, holders: list[str] | None = None) -> dict[str, Any]:
    return {"claimed": claimed, "slot": 0 if claimed else None, "holders": holders or []}


def _script(**overrides: Any) -> Script:
    return run_job_script(**{"claim_run_slot": _slot(True), "run_task": _ok, **overrides})


def test_a_request_the_app_did_not_sign_is_refused_before_it_takes_a_slot() -> None:
    req = request(CHAIN)
    ctx = FakeContext(req.model_dump(mode="json"), now=START, instance_id=req.run_id)

    output = drive(run_job.run_job, ctx, _script(check_run_request=[["the request is not signed"]]))

    assert output["result"] == "FAILED"
    assert output["message"] == "refused: the request is not signed"
    assert "claim_run_slot" not in ctx.names() and "run_task" not in ctx.names()


def _records(ctx: FakeContext) -> list[tuple[str, str | None]]:
    return [(r["state"], r["message"]) for r in ctx.inputs("record_run")]


def test_a_claimed_slot_runs_the_chain_in_order_and_gives_the_slot_back() -> None:
    req = request(CHAIN)
    ctx = FakeContext(req.model_dump(mode="json"), now=START, instance_id=req.run_id)

    output = drive(run_job.run_job, ctx, _script())

    assert output["result"] == "SUCCESS"
    assert {k: t["state"] for k, t in output["tasks"].items()} == {"a": "SUCCESS", "b": "SUCCESS"}
    children = [c for c in ctx.calls if c.kind == "orchestrator"]
    assert [(c.name, c.instance_id) for c in children] == [
        ("run_task", task_instance_id(req.run_id, "a")),
        ("run_task", task_instance_id(req.run_id, "b")),
    ]
    assert ctx.names()[:5] == [
        "check_run_request",
        "claim_run_slot",
        "check_job_settings",
        "record_run",
        "notify_run",
    ]
    assert ctx.names()[-3:] == ["record_run", "notify_run", "release_run_slot"]
    assert [c.retry for c in ctx.calls if c.name == "claim_run_slot"] == [storage_retry()]
    assert _records(ctx) == [("RUNNING", None), ("SUCCESS", None)]
    assert [n["event"] for n in ctx.inputs("notify_run")] == ["start", "success"]
    assert ctx.inputs("release_run_slot") == ctx.inputs("claim_run_slot")


def test_a_job_with_no_run_limit_takes_no_slot_and_gives_none_back() -> None:
    req = request({**CHAIN, "max_concurrent_runs": None})
    ctx = FakeContext(req.model_dump(mode="json"), now=START, instance_id=req.run_id)

    output = drive(run_job.run_job, ctx, _script(claim_run_slot=_slot(False, ["run-0"])))

    assert output["result"] == "SUCCESS", "a slot the script would refuse is never asked for"
    assert "claim_run_slot" not in ctx.names() and "release_run_slot" not in ctx.names()


def test_without_a_slot_and_without_queue_the_run_is_skipped_once_and_holds_no_slot() -> None:
    req = request({**CHAIN, "max_concurrent_runs": 1})
    ctx = FakeContext(req.model_dump(mode="json"), now=START)

    output = drive(run_job.run_job, ctx, _script(claim_run_slot=_slot(False, ["run-0"])))

    assert output["result"] == "SKIPPED"
    assert output["message"] == "skipped: 1 run(s) of this job are active (run-0)"
    assert {t["state"] for t in output["tasks"].values()} == {"SKIPPED"}
    assert _records(ctx) == [("SKIPPED", output["message"])]
    assert "release_run_slot" not in ctx.names() and "notify_run" not in ctx.names()
    assert ctx.names("orchestrator") == []


def test_a_queued_run_waits_with_growing_timers_across_continue_as_new() -> None:
    req = request({**CHAIN, "queue": True})
    ctx = FakeContext(req.model_dump(mode="json"), now=START)

    assert drive(run_job.run_job, ctx, _script(claim_run_slot=_slot(False))) is None

    first = QUEUE_POLL.first_seconds
    assert ctx.timers == [START + timedelta(seconds=first)]
    assert _records(ctx) == [("QUEUED", None)]
    envelope = ctx.continued_with
    assert envelope["queued_polls"] == 1 and envelope["queue_interval"] == first
    assert envelope["queued_at"] == START.isoformat()

    again = FakeContext(envelope, now=ctx.now)
    assert drive(run_job.run_job, again, _script(claim_run_slot=_slot(False))) is None
    assert again.timers == [ctx.now + timedelta(seconds=first * QUEUE_POLL.factor)]
    assert _records(again) == [], "QUEUED is recorded once, on the first wait"
    assert again.continued_with["queued_polls"] == 2

    admitted = FakeContext(again.continued_with, now=again.now)
    output = drive(run_job.run_job, admitted, _script())
    assert output["result"] == "SUCCESS"
    assert {r["created_at"] for r in admitted.inputs("record_run")} == {START.isoformat()}


def test_a_queued_run_canceled_while_waiting_ends_canceled_without_running_anything() -> None:
    req = request({**CHAIN, "queue": True})
    ctx = FakeContext(req.model_dump(mode="json"), now=START)
    ctx.raise_event(CANCEL_EVENT, "user asked")

    output = drive(run_job.run_job, ctx, _script(claim_run_slot=_slot(False)))

    assert output["result"] == "CANCELED"
    assert output["message"] == "canceled while queued: user asked"
    assert {t["state"] for t in output["tasks"].values()} == {"CANCELED"}
    assert _records(ctx) == [("QUEUED", None), ("CANCELED", "canceled while queued: user asked")]
    assert ctx.continued_with is None and ctx.names("orchestrator") == []


def test_the_job_timeout_wins_over_a_running_task_and_cancels_it_remotely() -> None:
    req = request({**CHAIN, "timeout_seconds": 60})
    ctx = FakeContext(req.model_dump(mode="json"), now=START)

    output = drive(run_job.run_job, ctx, _script(run_task=lambda _: PENDING))

    message = "the job timed out after 0:01:00"
    assert output["result"] == "TIMEDOUT" and output["message"] == message
    assert output["tasks"]["a"]["state"] == "TIMEDOUT"
    assert output["tasks"]["b"]["state"] != "RUNNING"
    assert ctx.now == START + timedelta(seconds=60)
    assert ctx.inputs("request_run_cancel") == [{"run_id": req.run_id, "reason": message}]
    assert ctx.names("orchestrator") == ["run_task"], "nothing starts after the timeout"
    assert _records(ctx)[-1] == ("TIMEDOUT", message)


def test_the_cancel_event_cancels_the_running_task_and_the_rest_never_starts() -> None:
    req = request(CHAIN)
    ctx = FakeContext(req.model_dump(mode="json"), now=START)
    ctx.raise_event(CANCEL_EVENT, "from the CLI")

    output = drive(run_job.run_job, ctx, _script(run_task=lambda _: PENDING))

    assert output["result"] == "CANCELED" and output["message"] == "canceled: from the CLI"
    assert output["tasks"]["a"]["state"] == "CANCELED"
    assert output["tasks"]["b"]["state"] in ("CANCELED", "UPSTREAM_CANCELED")
    assert ctx.inputs("request_run_cancel") == [{"run_id": req.run_id, "reason": "canceled: from the CLI"}]
    assert ctx.names("orchestrator") == ["run_task"]
    assert ctx.names()[-1] == "release_run_slot"


def test_a_failed_child_fails_its_task_with_the_reason_and_the_run_summarizes_it() -> None:
    req = request(CHAIN)
    ctx = FakeContext(req.model_dump(mode="json"), now=START)

    output = drive(run_job.run_job, ctx, _script(run_task=RuntimeError("boom")))

    assert output["result"] == "FAILED"
    assert output["tasks"]["a"]["state"] == "FAILED" and output["tasks"]["a"]["message"] == "boom"
    assert output["tasks"]["b"]["state"] == "UPSTREAM_FAILED"
    assert output["message"] == "a: boom"


def test_a_repair_reruns_only_the_chosen_task_and_keeps_untouched_outcomes() -> None:
    job = {
        "name": "repair",
        "tasks": [spark("a"), spark("b", depends_on=[{"task_key": "a"}]), spark("c")],
    }
    repair = RepairInfo(
        of_run_id="run-0",
        number=1,
        rerun_tasks=["b"],
        previous_states={"a": TaskState.SUCCESS, "b": TaskState.FAILED, "c": TaskState.FAILED},
    )
    req = request(job, run_id="run-0-repair-1", repair=repair)
    ctx = FakeContext(req.model_dump(mode="json"), now=START)

    output = drive(run_job.run_job, ctx, _script())

    children = [c for c in ctx.calls if c.kind == "orchestrator"]
    assert [c.instance_id for c in children] == [task_instance_id(req.run_id, "b", 1)]
    assert children[0].input["run_id"] == "run-0" and children[0].input["repair_number"] == 1
    assert output["tasks"]["a"]["state"] == "SUCCESS" and output["tasks"]["a"]["attempts"] == 0
    assert output["tasks"]["c"]["state"] == "FAILED" and output["tasks"]["c"]["attempts"] == 0
    assert output["tasks"]["b"]["state"] == "SUCCESS"
    assert output["tracked_run_id"] == "run-0" and output["repair_number"] == 1
    assert {r["run_id"] for r in ctx.inputs("record_run")} == {"run-0"}
    assert {r["generation"] for r in ctx.inputs("record_run")} == {1}


def test_every_activity_and_sub_orchestration_run_job_calls_is_in_the_registry() -> None:
    req = request({**CHAIN, "timeout_seconds": 60})
    ctx = FakeContext(req.model_dump(mode="json"), now=START)
    drive(run_job.run_job, ctx, _script(run_task=lambda _: PENDING))
    known = {s.name for s in (*registry.ACTIVITIES, *registry.SUB_ORCHESTRATORS)}
    assert {c.name for c in ctx.calls} <= known
