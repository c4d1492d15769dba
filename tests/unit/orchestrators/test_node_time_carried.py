"""A Batch fan-out carries the node time its polls measure from poll to poll, across continue_as_new,
into the attempt's compute info (issue 17: node count over time in the ledger)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from jobclusters.execution.messages import AttemptInput, TaskRunInput
from jobclusters.execution.node_time import NodeTime
from jobclusters.spec.model import Task
from orchestrators import batch_fanout, cluster_run
from tests.unit.orchestrators.fake_context import FakeContext, drive
from tests.unit.orchestrators.script import START, Script, command, spark

COMPUTE = {
    "kind": "batch",
    "node_size": "Standard_D2s_v3",
    "nodes_min": 1,
    "nodes_max": 4,
    "mode": "onDemand",
}


def _attempt() -> dict[str, Any]:
    run = TaskRunInput(
        run_id="run-1", control_id="run-1", job_id="j", job_name="J", task=Task.model_validate(command("t"))
    )
    return AttemptInput(run=run, attempt=0, instance_id="run-1:t:r0:a0").model_dump(mode="json")


def test_the_polls_node_time_reaches_the_outcome() -> None:
    """The fake poll folds in a node count the way the activity does (at the fake clock): 2 nodes, a
    resize to 4, then done. The orchestrator only passes the state along."""
    counts = iter([2, 2, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4])
    seen_inputs: list[dict[str, Any]] = []
    clock: list[datetime] = [START]

    def poll(inp: dict[str, Any]) -> dict[str, Any]:
        seen_inputs.append(inp)
        before = NodeTime.model_validate(inp["node_time"]) if inp.get("node_time") else NodeTime()
        after = before.observe(next(counts), clock[0])
        done = len(seen_inputs) >= 6
        answer: dict[str, Any] = {"completed": 1, "succeeded": 1} if done else {"running": 1}
        return {**answer, "node_time": after.model_dump(mode="json")}

    script: dict[str, Any] = {
        "plan_inputs": {"count": 1, "manifest": "manifests/m.json"},
        "batch_prepare": {
            "pool_ref": {"mode": "onDemand", "pool_id": "p", "created": True},
            "job_id": "job-1",
            "compute_info": COMPUTE,
        },
        "batch_add_chunk": lambda inp: {"added": inp["end"] - inp["start"]},
        "batch_poll": poll,
        "batch_finish": {"pool_deleted": True},
    }
    ctx = FakeContext(_attempt(), now=START)
    output = _drive_ticking(ctx, script, clock)
    while output == {} and ctx.continued_with is not None:
        ctx = FakeContext(ctx.continued_with, now=ctx.now)
        output = _drive_ticking(ctx, script, clock)

    assert output["state"] == "SUCCESS"
    assert all(i["pool_ref"]["pool_id"] == "p" for i in seen_inputs), "the poll is told which pool to count"
    assert seen_inputs[0].get("node_time") is None
    assert all(later["node_time"] for later in seen_inputs[1:]), "each poll gets the state the last returned"
    info = output["compute_info"]
    assert {k: info[k] for k in COMPUTE} == COMPUTE
    assert (info["nodes_seen_min"], info["nodes_seen_max"], info["nodes_last"]) == (2, 4, 4)
    final = NodeTime.model_validate(seen_inputs[-1]["node_time"]).observe(4, clock[0])
    assert info["node_seconds"] == round(final.node_seconds, 3)
    assert info["observed_seconds"] == round(final.observed_seconds, 3)
    assert 2 * info["observed_seconds"] < info["node_seconds"] < 4 * info["observed_seconds"]


def _drive_ticking(ctx: FakeContext, script: dict[str, Any], clock: list[datetime]) -> Any:
    """Drive with the poll's clock following the fake context's (what the activity would read)."""

    def answer(task: Any) -> Any:
        clock[0] = ctx.now
        return Script(**script)(task)

    return drive(batch_fanout.batch_fanout, ctx, answer)


def test_a_cluster_attempt_records_the_node_time_its_finish_measured() -> None:
    cluster = {"kind": "databricks", "node_size": "Standard_DS3_v2", "nodes_min": 3, "nodes_max": 7}
    measured = {"node_seconds": 1500.0, "observed_seconds": 500.0, "nodes_seen_min": 2, "nodes_seen_max": 6}
    handle = {"backend": "databricks", "run_id": "7", "idempotency_key": "k"}
    run = TaskRunInput(
        run_id="run-1", control_id="run-1", job_id="j", job_name="J", task=Task.model_validate(spark("t"))
    )
    attempt = AttemptInput(run=run, attempt=0, instance_id="run-1:t:r0:a0").model_dump(mode="json")
    script = Script(
        cluster_submit={"handle": handle, "compute": "databricks", "compute_info": cluster},
        cluster_poll={"terminal": True, "state": "SUCCESS"},
        cluster_finish={"measured": measured},
    )
    output = drive(cluster_run.cluster_run, FakeContext(attempt, now=START), script)
    assert output["compute_info"] == {**cluster, **measured}
