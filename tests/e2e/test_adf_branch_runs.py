"""ADF IfCondition and Switch through devhost: the If picks its branch from a pipeline parameter, whose
activities run a command and set a variable; the Switch on that variable runs the matching case (a Wait,
or a command that fails) and its outcome decides which later activity runs. The run view shows the
branch and the inner activities, and tracking rows exist under the inner keys."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.e2e.conftest import TAGS, AppHost

pytestmark = pytest.mark.integration


def _after(activity: dict[str, Any], upstream: str, on: str = "Succeeded") -> dict[str, Any]:
    return {**activity, "dependsOn": [{"activity": upstream, "dependencyConditions": [on]}]}


def _command(name: str, line: str, pool: str) -> dict[str, Any]:
    return {
        "name": name,
        "type": "Custom",
        "linkedServiceName": {"referenceName": pool, "type": "LinkedServiceReference"},
        "typeProperties": {"command": line},
    }


def _set(name: str, value: str) -> dict[str, Any]:
    return {"name": name, "type": "SetVariable", "typeProperties": {"variableName": "chosen", "value": value}}


def _pipeline(name: str, pool: str) -> dict[str, Any]:
    check = {
        "name": "check",
        "type": "IfCondition",
        "typeProperties": {
            "expression": {"value": "@equals(pipeline().parameters.go, 'yes')", "type": "Expression"},
            "ifTrueActivities": [
                _command("hello", "python3 -c \"print('the true branch')\"", pool),
                _after(_set("pick_fast", "fast"), "hello"),
            ],
            "ifFalseActivities": [_set("pick_slow", "slow")],
        },
    }
    route = {
        "name": "route",
        "type": "Switch",
        "typeProperties": {
            "on": {"value": "@variables('chosen')", "type": "Expression"},
            "cases": [
                {
                    "value": "fast",
                    "activities": [
                        {"name": "nap", "type": "Wait", "typeProperties": {"waitTimeInSeconds": 1}}
                    ],
                },
                {
                    "value": "slow",
                    "activities": [_command("crash", 'python3 -c "raise SystemExit(3)"', pool)],
                },
            ],
            "defaultActivities": [_set("pick_none", "none")],
        },
    }
    return {
        "name": name,
        "properties": {
            "parameters": {"go": {"type": "string", "defaultValue": "yes"}},
            "variables": {"chosen": {"type": "String"}},
            "activities": [
                check,
                _after(route, "check"),
                _after(_set("celebrate", "done"), "route"),
                _after(_set("recover", "recovered"), "route", on="Failed"),
            ],
            "annotations": [f"{k}:{v}" for k, v in TAGS.items()],
        },
    }


def test_if_and_switch_pick_their_branches_and_decide_what_runs_after(app_host: AppHost) -> None:
    client = app_host.client
    pool = "AzureBatch" + uuid.uuid4().hex[:6]
    job = client.register_job(_pipeline("branches_" + uuid.uuid4().hex[:6], pool), format="adf")

    view = app_host.wait_run_done(client.start_job(job["job_id"], {"go": "yes"})["run_id"], timeout=180)

    assert view["result"] == "SUCCESS", view["tasks"]
    states = {k: t["state"] for k, t in view["tasks"].items()}
    assert states == {
        "check/branch": "SUCCESS",
        "check/ifTrue/hello": "SUCCESS",
        "check/ifTrue/pick_fast": "SUCCESS",
        "check/ifFalse/pick_slow": "EXCLUDED",
        "check": "SUCCESS",
        "route/branch": "SUCCESS",
        "route/fast/nap": "SUCCESS",
        "route/slow/crash": "EXCLUDED",
        "route/default/pick_none": "EXCLUDED",
        "route": "SUCCESS",
        "celebrate": "SUCCESS",
        "recover": "SKIPPED",
    }
    check, route = view["tasks"]["check"], view["tasks"]["route"]
    assert (check["branch"], route["branch"]) == ("true", "fast")
    assert set(check["tasks"]) == {"ifTrue/hello", "ifTrue/pick_fast", "ifFalse/pick_slow"}
    assert route["tasks"]["fast/nap"]["duration_seconds"] >= 1
    assert check["tasks"]["ifTrue/hello"]["attempt_history"], "a tracking row under the inner key"

    view = app_host.wait_run_done(client.start_job(job["job_id"], {"go": "no"})["run_id"], timeout=180)

    states = {k: t["state"] for k, t in view["tasks"].items()}
    assert (states["check/ifTrue/hello"], states["check/ifFalse/pick_slow"]) == ("EXCLUDED", "SUCCESS")
    assert view["tasks"]["route"]["branch"] == "slow"
    assert (states["route/slow/crash"], states["route"]) == ("FAILED", "FAILED")
    assert view["tasks"]["route"]["message"].startswith("route/slow/crash failed")
    assert (states["celebrate"], states["recover"]) == ("SKIPPED", "SUCCESS")
    # ADF's leaf rule: the skipped `celebrate` defers to the failed Switch
    assert view["result"] == "FAILED"


def test_a_repair_reruns_the_failed_branch_activity_without_deciding_the_branch_again(
    app_host: AppHost, tmp_path: Any
) -> None:
    marker = tmp_path / "fixed"
    probe = f"python3 -c \"import os, sys; sys.exit(0 if os.path.exists('{marker}') else 3)\""
    pool = "AzureBatch" + uuid.uuid4().hex[:6]
    pipeline = {
        "name": "branch_repair_" + uuid.uuid4().hex[:6],
        "properties": {
            "activities": [
                {
                    "name": "check",
                    "type": "IfCondition",
                    "typeProperties": {
                        "expression": {"value": "@equals(1, 1)", "type": "Expression"},
                        "ifTrueActivities": [_command("probe", probe, pool)],
                    },
                },
                _after(_set("after", "x"), "check"),
            ],
            "variables": {"chosen": {"type": "String"}},
            "annotations": [f"{k}:{v}" for k, v in TAGS.items()],
        },
    }
    client = app_host.client
    run_id = client.start_job(client.register_job(pipeline, format="adf")["job_id"])["run_id"]
    view = app_host.wait_run_done(run_id, timeout=120)
    assert (view["result"], view["tasks"]["check"]["state"]) == ("FAILED", "FAILED")
    assert view["tasks"]["after"]["state"] == "SKIPPED"

    marker.write_text("ok")
    repair = client.repair_run(run_id)
    view = app_host.wait_run_done(repair["run_id"], timeout=120)

    assert sorted(repair["rerun_tasks"]) == ["after", "check", "check/ifTrue/probe"]
    assert view["result"] == "SUCCESS", view["tasks"]
    assert (view["tasks"]["check"]["state"], view["tasks"]["after"]["state"]) == ("SUCCESS", "SUCCESS")
    assert view["tasks"]["check"]["branch"] == "true"
