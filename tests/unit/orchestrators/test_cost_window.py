"""`run_job` waits for the cost policy's preferred window when its request says so (`not_before`)."""

from __future__ import annotations

from datetime import timedelta

from jobclusters.run_request import CANCEL_EVENT
from orchestrators import run_job
from orchestrators.common import iso
from tests.unit.orchestrators.fake_context import FakeContext, drive
from tests.unit.orchestrators.script import START, Script, request, run_job_script, spark

JOB = {"name": "nightly", "tasks": [spark("a")]}
OPENS = START + timedelta(hours=3)


def _script() -> Script:
    return run_job_script(run_task={"state": "SUCCESS", "attempts": 1})


def test_a_run_waits_queued_for_its_window_then_runs() -> None:
    req = request(JOB).model_copy(update={"not_before": OPENS.isoformat()})
    ctx = FakeContext(req.model_dump(mode="json"), now=START, instance_id=req.run_id)

    output = drive(run_job.run_job, ctx, _script())

    assert output["result"] == "SUCCESS"
    queued = next(s for s in ctx.statuses if s.get("starts_at"))
    assert queued["starts_at"] == OPENS.isoformat() and queued["tasks"]["a"]["state"] == "QUEUED"
    assert [r["state"] for r in ctx.inputs("record_run")][:2] == ["QUEUED", "RUNNING"]
    assert OPENS in ctx.timers
    assert output["start"] == iso(OPENS)  # the run starts when it stops waiting
    assert ctx.names().index("claim_run_slot") > ctx.names().index("record_run")


def test_a_run_canceled_while_it_waits_for_its_window_runs_nothing() -> None:
    req = request(JOB).model_copy(update={"not_before": OPENS.isoformat()})
    ctx = FakeContext(req.model_dump(mode="json"), now=START, instance_id=req.run_id)
    ctx.raise_event(CANCEL_EVENT, "not tonight")

    output = drive(run_job.run_job, ctx, _script())

    assert output["result"] == "CANCELED"
    assert output["message"] == "canceled while waiting for its cost window: not tonight"
    assert "claim_run_slot" not in ctx.names() and "run_task" not in ctx.names("orchestrator")


def test_a_window_already_open_does_not_wait() -> None:
    req = request(JOB).model_copy(update={"not_before": (START - timedelta(minutes=1)).isoformat()})
    ctx = FakeContext(req.model_dump(mode="json"), now=START, instance_id=req.run_id)

    drive(run_job.run_job, ctx, _script())

    assert [r["state"] for r in ctx.inputs("record_run")][0] == "RUNNING"
