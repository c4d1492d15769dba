"""ADF Wait, SetVariable, AppendVariable and Filter decided by `run_job` on the fake context: the wait is a
durable timer, variables flow to later activities, Filter's condition runs per item, the return value is
in the run's output, and bad values fail the activity with the reason."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from orchestrators import run_job
from tests.unit.orchestrators.fake_context import FakeContext, drive
from tests.unit.orchestrators.script import START, Script, request, run_job_script


def _script() -> Script:
    return run_job_script()


def _task(key: str, payload: dict[str, Any], after: str | None = None) -> dict[str, Any]:
    task: dict[str, Any] = {"key": key, "payload": payload}
    if after:
        task["depends_on"] = [{"task_key": after, "conditions": ["Succeeded"]}]
    return task


PIPELINE = {
    "name": "p",
    "variables": {"files": None},
    "tasks": [
        _task("pause", {"kind": "wait", "seconds": "@string(30)"}),
        _task("list", {"kind": "set_variable", "name": "files", "value": ["a.csv", "b.txt"]}, "pause"),
        _task("more", {"kind": "set_variable", "name": "files", "value": "c.csv", "append": True}, "list"),
        _task(
            "csv",
            {"kind": "filter", "items": "@variables('files')", "condition": "@endsWith(item(), '.csv')"},
            "more",
        ),
        _task(
            "ret",
            {
                "kind": "set_variable",
                "name": "pipelineReturnValue",
                "value": {"n": "@activity('csv').output.FilteredItemsCount"},
            },
            "csv",
        ),
    ],
}


def test_wait_variables_filter_and_return_value_run_in_order() -> None:
    req = request(PIPELINE)
    ctx = FakeContext(req.model_dump(mode="json"), now=START, instance_id=req.run_id)

    output = drive(run_job.run_job, ctx, _script())

    assert output["result"] == "SUCCESS", output["tasks"]
    assert START + timedelta(seconds=30) in ctx.timers
    assert output["tasks"]["pause"]["end"] == (START + timedelta(seconds=30)).isoformat()
    assert output["return_value"] == {"n": 2}
    rows = [r for b in ctx.inputs("record_task_runs") for r in b["rows"]]
    assert [(r["task_key"], r["state"]) for r in rows] == [
        ("pause", "RUNNING"),  # its row while it waits, as the run view of a ForEach body reads it
        ("pause", "SUCCESS"),
        ("list", "SUCCESS"),
        ("more", "SUCCESS"),
        ("csv", "SUCCESS"),
        ("ret", "SUCCESS"),
    ]
    assert ctx.names("orchestrator") == []


def test_appending_to_a_variable_that_is_not_an_array_fails_the_activity() -> None:
    job = {
        "name": "p",
        "variables": {"n": "1"},
        "tasks": [_task("more", {"kind": "set_variable", "name": "n", "value": "x", "append": True})],
    }
    req = request(job)
    ctx = FakeContext(req.model_dump(mode="json"), now=START, instance_id=req.run_id)

    output = drive(run_job.run_job, ctx, _script())

    assert output["result"] == "FAILED"
    assert output["tasks"]["more"]["message"] == "AppendVariable: variable 'n' is not an Array (it holds '1')"


def test_a_filter_over_something_not_an_array_fails_naming_the_path() -> None:
    job = {
        "name": "p",
        "tasks": [
            {**_task("f", {"kind": "filter", "items": "x", "condition": "@true"}), "source_path": "$.a[0]"}
        ],
    }
    req = request(job)
    ctx = FakeContext(req.model_dump(mode="json"), now=START, instance_id=req.run_id)

    output = drive(run_job.run_job, ctx, _script())

    assert output["tasks"]["f"]["message"] == "$.a[0].payload.items: Filter items is not an array: got str"
