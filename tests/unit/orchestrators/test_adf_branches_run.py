"""ADF IfCondition / Switch decided by `run_job` on the fake context: the selector renders its expression
against the run's parameters and variables, only the branch taken runs, inner activities see each other
by name, the join ends with the branch, and an If whose expression is not a boolean fails naming it."""

from __future__ import annotations

from typing import Any

import pytest

from jobclusters.spec import load_definition
from orchestrators import run_job
from tests.unit.orchestrators.fake_context import FakeContext, drive
from tests.unit.orchestrators.script import START, Script, request, run_job_script


def _script() -> Script:
    return run_job_script()


def _set(name: str, variable: str, value: Any, after: str | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {
        "name": name,
        "type": "SetVariable",
        "typeProperties": {"variableName": variable, "value": value},
    }
    if after:
        found["dependsOn"] = [{"activity": after, "dependencyConditions": ["Succeeded"]}]
    return found


def _pipeline(expression: str) -> dict[str, Any]:
    return {
        "name": "p",
        "properties": {
            "parameters": {"go": {"type": "string", "defaultValue": "yes"}},
            "variables": {"chosen": {"type": "String"}, "seen": {"type": "String"}},
            "activities": [
                {
                    "name": "check",
                    "type": "IfCondition",
                    "typeProperties": {
                        "expression": {"value": expression, "type": "Expression"},
                        "ifTrueActivities": [
                            _set("pick", "chosen", "eu"),
                            _set("echo", "seen", "@activity('pick').output.value", "pick"),
                        ],
                        "ifFalseActivities": [_set("other", "chosen", "us")],
                    },
                },
                {
                    "name": "route",
                    "type": "Switch",
                    "dependsOn": [{"activity": "check", "dependencyConditions": ["Succeeded"]}],
                    "typeProperties": {
                        "on": "@variables('chosen')",
                        "cases": [{"value": "eu", "activities": [_set("eu_only", "seen", "eu")]}],
                        "defaultActivities": [_set("fallback", "seen", "default")],
                    },
                },
            ],
        },
    }


def _run(expression: str, go: str) -> tuple[dict[str, Any], FakeContext]:
    job = load_definition(_pipeline(expression), required_tags=()).require()
    req = request(job.model_dump(mode="json"), parameters={"go": go})
    ctx = FakeContext(req.model_dump(mode="json"), now=START, instance_id=req.run_id)
    return drive(run_job.run_job, ctx, _script()), ctx


@pytest.mark.parametrize(
    ("go", "ran", "excluded", "switch_branch"),
    [
        (
            "yes",
            ["check/ifTrue/pick", "check/ifTrue/echo", "route/eu/eu_only"],
            ["check/ifFalse/other"],
            "eu",
        ),
        ("no", ["check/ifFalse/other", "route/default/fallback"], ["check/ifTrue/pick"], "default"),
    ],
)
def test_only_the_branch_taken_runs(go: str, ran: list[str], excluded: list[str], switch_branch: str) -> None:
    output, ctx = _run("@equals(pipeline().parameters.go, 'yes')", go)

    assert output["result"] == "SUCCESS", output["tasks"]
    tasks = output["tasks"]
    assert all(tasks[k]["state"] == "SUCCESS" for k in ran)
    assert all(tasks[k]["state"] == "EXCLUDED" for k in excluded)
    assert tasks["check"]["state"] == "SUCCESS" and tasks["route"]["state"] == "SUCCESS"
    progress = ctx.statuses[-1]["tasks"]
    assert progress["check/branch"]["outcome"] == ("true" if go == "yes" else "false")
    assert progress["route/branch"]["outcome"] == progress["route"]["outcome"] == switch_branch
    rows = {r["task_key"]: r["state"] for b in ctx.inputs("record_task_runs") for r in b["rows"]}
    assert rows["check"] == "SUCCESS" and all(rows[k] == "SUCCESS" for k in ran)
    assert ctx.names("orchestrator") == []


def test_an_if_expression_that_is_not_a_boolean_fails_the_if_and_skips_what_follows() -> None:
    output, _ = _run("@pipeline().parameters.go", "maybe")

    tasks = output["tasks"]
    assert output["result"] == "FAILED"
    assert tasks["check/branch"]["message"] == (
        "check/branch: an IfCondition expression must give a boolean, got 'maybe'"
    )
    assert tasks["check"]["state"] == "FAILED"
    assert tasks["check"]["message"].startswith("check/branch failed: ")
    assert tasks["check/ifTrue/pick"]["state"] == "SKIPPED" and tasks["route/branch"]["state"] == "SKIPPED"
