"""A cancel travels down the tree of a run: each loop that gets the cancel event while its children run
passes it on to them (`forward_cancel`, one call), so a Wait deep in an ADF ForEach or Until ends at the
cancel. Followed level by level on the fake context, each level's input being what the level above
really scheduled: run_job -> for_each -> for_each_chunk -> run_block, and run_job -> until -> run_block."""

from __future__ import annotations

from typing import Any

from jobclusters.execution.ids import task_instance_id
from orchestrators import for_each, run_job, until
from tests.unit.orchestrators.fake_context import PENDING, FakeContext, FakeTask, after, drive
from tests.unit.orchestrators.script import START
from tests.unit.orchestrators.test_adf_blocks import _custom, _for_each, _pipeline

CANCEL = {"reason": "enough", "actor": "ann"}
SAID = "canceled by ann: enough"
_BODY = [
    {"name": "pause", "type": "Wait", "typeProperties": {"waitTimeInSeconds": 3600}},
    _custom("work", "work @{item()}", after="pause"),
]
_LOOPS = {"for_each", "for_each_chunk", "run_block", "until", "run_task"}


class Tree:
    """Answers one level: its children run until it passes the cancel on, its activities answer as the
app's would."""

    def __init__(self) -> None:
        self.forwarded: list[dict[str, Any]] = []
        self.rows: list[dict[str, Any]] = []
        self.started: list[str] = []

    def __call__(self, task: FakeTask) -> Any:
        if task.name in _LOOPS:
            return _stopped(task) if self.forwarded else PENDING
        if task.name == "forward_cancel":
            self.forwarded.append(task.input)
            return len(task.input["instance_ids"])
        if task.name == "record_task_runs":
            self.rows += task.input["rows"]
            return 1
        self.started.append(task.name)
        return {
            "claim_run_slot": {"claimed": True, "slot": 0, "holders": []},
            "check_job_settings": {"blocked": {}},
            "check_run_request": [],
        }.get(task.name, {})


def _stopped(child: FakeTask) -> dict[str, Any]:
    """What a child that got the cancel ends with."""
    if child.name == "for_each_chunk":
        return {"iterations": [{"index": int(i), "state": "CANCELED"} for i in child.input["iterations"]]}
    if child.name == "run_block":
        return {"state": "CANCELED", "message": SAID}
    return {"state": "CANCELED", "attempts": 1, "message": SAID}


def _level(orchestrator: Any, value: Any, instance_id: str) -> tuple[FakeContext, Tree, Any]:
    """Drive one orchestrator with the cancel event raised while its children run."""
    ctx = FakeContext(value, now=START, instance_id=instance_id)
    ctx.raise_event("cancel", CANCEL)
    tree = Tree()
    return ctx, tree, drive(orchestrator, ctx, tree)


def _scheduled(ctx: FakeContext, name: str) -> list[tuple[str, Any]]:
    return [(c.instance_id or "", c.input) for c in ctx.calls if c.name == name]


def test_a_cancel_reaches_a_wait_inside_a_foreach_body_through_every_level() -> None:
    req = _pipeline(_for_each(_BODY, ["a", "b", "c"], batchCount=2))
    loop_id = task_instance_id("run-1", "loop", 0)

    root, tree, output = _level(run_job.run_job, req.model_dump(mode="json"), "run-1")
    assert tree.forwarded == [{"instance_ids": [loop_id], "data": CANCEL}]
    assert output["tasks"]["loop"]["state"] == "CANCELED" and output["tasks"]["loop"]["message"] == SAID

    [(_, loop_input)] = _scheduled(root, "for_each")
    ctx, tree, outcome = _level(for_each.for_each, loop_input, loop_id)
    chunk_ids = [i for i, _ in _scheduled(ctx, "for_each_chunk")]
    assert chunk_ids and tree.forwarded == [{"instance_ids": chunk_ids, "data": CANCEL}]
    assert (outcome["state"], outcome["message"]) == ("CANCELED", SAID)
    assert (tree.rows[-1]["state"], tree.rows[-1]["message"]) == ("CANCELED", SAID), "its own row says so"

    [(chunk_id, chunk_input)] = _scheduled(ctx, "for_each_chunk")
    ctx, tree, chunk = _level(for_each.for_each_chunk, chunk_input, chunk_id)
    blocks = _scheduled(ctx, "run_block")
    assert [i for i, _ in blocks] == [task_instance_id("run-1", f"loop[{n}]", 0) for n in (0, 1)]
    assert tree.forwarded == [{"instance_ids": [i for i, _ in blocks], "data": CANCEL}]
    assert [(i["index"], i["state"], i["message"]) for i in chunk["iterations"]] == [
        (n, "CANCELED", SAID) for n in (0, 1, 2)
    ], "2 never started"

    block_id, block_input = blocks[0]
    ctx, tree, body = _level(run_job.run_block, block_input, block_id)
    assert ctx.now == START, "the Wait ended at the cancel, not an hour later"
    assert "batch_start" not in tree.started and not _scheduled(ctx, "run_task"), "work never started"
    assert "request_run_cancel" not in tree.started, "the run that passed the cancel on marked it already"
    assert body["state"] == "CANCELED"
    ended = {r["task_key"]: (r["state"], r.get("message")) for r in tree.rows if r["state"] != "RUNNING"}
    assert ended["loop[0]/pause"] == ended["loop[0]"] == ("CANCELED", SAID)
    assert ended["loop[0]/work"][0] == "UPSTREAM_CANCELED"
    assert not tree.forwarded, "nothing below a body of a Wait and a command"


def test_a_cancel_reaches_the_running_pass_of_an_until() -> None:
    req = _pipeline(
        {
            "name": "again",
            "type": "Until",
            "typeProperties": {"expression": "@equals(1, 2)", "timeout": "0.02:00:00", "activities": _BODY},
        }
    )
    until_id = task_instance_id("run-1", "again", 0)

    root, tree, output = _level(run_job.run_job, req.model_dump(mode="json"), "run-1")
    assert tree.forwarded == [{"instance_ids": [until_id], "data": CANCEL}]

    [(_, until_input)] = _scheduled(root, "until")
    ctx, tree, outcome = _level(until.until, until_input, until_id)
    [(pass_id, _)] = _scheduled(ctx, "run_block")
    assert pass_id == task_instance_id("run-1", "again[0]", 0)
    assert tree.forwarded == [{"instance_ids": [pass_id], "data": CANCEL}]
    assert (outcome["state"], outcome["message"]) == ("CANCELED", SAID)
    assert ctx.now < after(START, hours=1), "it ended at the cancel"
