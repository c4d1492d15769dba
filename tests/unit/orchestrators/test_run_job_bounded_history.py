"""`run_job` keeps every execution's history bounded: past its budget it continues as new with the walk's
state, whatever the job's size or shape, and a cancel or the job timeout still end the run."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from jobclusters.run_request import CANCEL_EVENT
from orchestrators import run_job
from tests.unit.orchestrators.fake_context import FakeContext, FakeTask, drive
from tests.unit.orchestrators.script import START, Script, command, ended_as, request, run_job_script

#: what an instance's history may hold (the issue's bound)
HISTORY_LIMIT = 1000


class CountingContext(FakeContext):
    """Counts the history events an execution would write, generously: two per scheduled activity,
    sub-orchestration or timer, two per episode (every wait may end one)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.waits = 0

    def task_any(self, tasks: list[FakeTask]) -> FakeTask:
        self.waits += 1
        return super().task_any(tasks)

    def task_all(self, tasks: list[FakeTask]) -> FakeTask:
        self.waits += 1
        return super().task_all(tasks)

    def history_events(self) -> int:
        bare = sum(1 for c in self.calls if c.kind in ("activity", "orchestrator"))
        return 2 + 2 * len(self.calls) + 2 * len(self.timers) + 2 * (self.waits + bare)


def _script(**overrides: Any) -> Script:
    return run_job_script(**{"batch_start": ended_as({"state": "SUCCESS", "attempts": 1}), **overrides})


def _run_to_the_end(
    job: dict[str, Any], script: Script, *, on_execution: Any = None
) -> tuple[dict[str, Any], list[CountingContext]]:
    req = request(job)
    payload: Any = req.model_dump(mode="json")
    now = START
    executions: list[CountingContext] = []
    while True:
        ctx = CountingContext(payload, now=now, instance_id=req.run_id)
        if on_execution is not None:
            on_execution(ctx, len(executions))
        executions.append(ctx)
        output = drive(run_job.run_job, ctx, script)
        if ctx.continued_with is None:
            return output, executions
        payload, now = ctx.continued_with, ctx.now
        assert len(executions) < 200, "the walk does not progress across executions"


def _chain(n: int) -> dict[str, Any]:
    tasks = [command("t0")] + [command(f"t{i}", depends_on=[{"task_key": f"t{i - 1}"}]) for i in range(1, n)]
    return {"name": "chain", "tasks": tasks}


def _fan(n: int) -> dict[str, Any]:
    return {"name": "fan", "tasks": [command(f"t{i}") for i in range(n)]}


def test_a_1000_task_chain_runs_in_order_in_executions_each_under_the_history_limit() -> None:
    output, executions = _run_to_the_end(_chain(1000), _script())

    assert output["result"] == "SUCCESS"
    assert {t["state"] for t in output["tasks"].values()} == {"SUCCESS"}
    started = [c.input["attempt_id"] for ctx in executions for c in ctx.calls if c.name == "batch_start"]
    assert len(started) == 1000 and len(set(started)) == 1000
    assert len(executions) > 1
    assert max(ctx.history_events() for ctx in executions) < HISTORY_LIMIT
    records = [r["state"] for ctx in executions for r in ctx.inputs("record_run")]
    assert records == ["RUNNING", "SUCCESS"], "start and finish are recorded once, not per execution"
    assert sum(len(b["rows"]) for ctx in executions for b in ctx.inputs("record_task_runs")) == 0
    assert [n["event"] for ctx in executions for n in ctx.inputs("notify_run")] == ["start", "success"]


def test_a_1000_wide_fan_starts_in_waves_each_execution_under_the_history_limit() -> None:
    output, executions = _run_to_the_end(_fan(1000), _script())

    assert output["result"] == "SUCCESS"
    assert sum(1 for ctx in executions for c in ctx.calls if c.name == "batch_start") == 1000
    assert max(ctx.history_events() for ctx in executions) < HISTORY_LIMIT
    assert [ctx.names().count("claim_run_slot") for ctx in executions[1:]] == [0] * (len(executions) - 1)


def test_failures_recorded_in_an_early_execution_decide_the_tasks_of_a_later_one() -> None:
    job = _chain(300)
    job["tasks"][5]["payload"]["command_line"] = "false"
    fails = {"state": "FAILED", "attempts": 1, "message": "exit 1"}

    def answer(value: dict[str, Any]) -> dict[str, Any]:
        return fails if value["task"]["key"] == "t5" else {"state": "SUCCESS", "attempts": 1}

    output, executions = _run_to_the_end(job, _script(batch_start=ended_as(answer)))

    assert output["result"] == "FAILED"
    assert output["message"] == "t5: exit 1"
    assert output["tasks"]["t299"]["state"] == "UPSTREAM_FAILED"
    assert sum(1 for ctx in executions for c in ctx.calls if c.name == "batch_start") == 6


def test_a_cancel_raised_in_a_later_execution_stops_the_walk_and_nothing_more_starts() -> None:
    def cancel_in_the_third(ctx: CountingContext, index: int) -> None:
        if index == 2:
            ctx.raise_event(CANCEL_EVENT, {"reason": "user asked"})

    output, executions = _run_to_the_end(_chain(1000), _script(), on_execution=cancel_in_the_third)

    assert output["result"] == "CANCELED"
    assert len(executions) == 3
    assert executions[2].names().count("request_run_cancel") == 1
    states = [t["state"] for t in output["tasks"].values()]
    started = sum(1 for ctx in executions for c in ctx.calls if c.name == "batch_start")
    # the task starting when the cancel came ends as it did; the one after it is canceled before it starts
    assert states.count("SUCCESS") == started and states.count("CANCELED") == 1
    assert {s for s in states if s not in ("SUCCESS", "CANCELED")} == {"UPSTREAM_CANCELED"}


def test_the_job_timeout_counts_from_the_original_start_in_every_execution() -> None:
    job = {**_chain(150), "timeout_seconds": 3600}
    output, executions = _run_to_the_end(job, _script())

    assert len(executions) > 1
    for ctx in executions:
        assert START + timedelta(seconds=3600) in ctx.timers
    assert output["result"] == "SUCCESS" and output["start"] == START.isoformat()
