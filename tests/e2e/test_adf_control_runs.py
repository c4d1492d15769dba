"""An ADF pipeline with the control activities jobclusters runs, through devhost: Wait (a durable timer),
SetVariable / AppendVariable, Filter over the variable with `@item()`, the pipeline return value, and a
Fail on the path not taken; a Wait whose seconds are not a number fails with the reason."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import AppHost

pytestmark = pytest.mark.integration


def _activity(
    name: str, kind: str, props: dict[str, Any], after: str | None = None, on: str = "Succeeded"
) -> dict[str, Any]:
    found: dict[str, Any] = {"name": name, "type": kind, "typeProperties": props}
    if after:
        found["dependsOn"] = [{"activity": after, "dependencyConditions": [on]}]
    return found


def _pipeline(name: str, *activities: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "properties": {
            "variables": {"files": {"type": "Array"}},
            "activities": list(activities),
        },
    }


def test_wait_variables_filter_and_return_value(app_host: AppHost) -> None:
    pipeline = _pipeline(
        "adf-controls",
        _activity("pause", "Wait", {"waitTimeInSeconds": 1}),
        _activity("list", "SetVariable", {"variableName": "files", "value": ["a.csv", "b.txt"]}, "pause"),
        _activity("more", "AppendVariable", {"variableName": "files", "value": "c.csv"}, "list"),
        _activity(
            "csv",
            "Filter",
            {
                "items": {"value": "@variables('files')", "type": "Expression"},
                "condition": {"value": "@endsWith(item(), '.csv')", "type": "Expression"},
            },
            "more",
        ),
        _activity(
            "ret",
            "SetVariable",
            {
                "variableName": "pipelineReturnValue",
                "setSystemVariable": True,
                "value": [
                    {
                        "key": "csv_files",
                        "value": {
                            "type": "Expression",
                            "content": "@activity('csv').output.FilteredItemsCount",
                        },
                    }
                ],
            },
            "csv",
        ),
        _activity("never", "Fail", {"message": "filter failed", "errorCode": "E1"}, "csv", on="Failed"),
    )
    client = app_host.client
    run_id = client.start_job(client.register_job(pipeline)["job_id"])["run_id"]

    view = app_host.wait_run_done(run_id, timeout=120)

    assert view["result"] == "SUCCESS", view["tasks"]
    states = {k: t["state"] for k, t in view["tasks"].items()}
    assert states == {
        "pause": "SUCCESS",
        "list": "SUCCESS",
        "more": "SUCCESS",
        "csv": "SUCCESS",
        "ret": "SUCCESS",
        "never": "SKIPPED",
    }
    assert view["tasks"]["pause"]["duration_seconds"] >= 1


def test_a_wait_whose_seconds_are_not_a_number_fails_with_the_reason(app_host: AppHost) -> None:
    pipeline = _pipeline(
        "adf-bad-wait",
        _activity(
            "pause", "Wait", {"waitTimeInSeconds": {"value": "@concat('a', 'b')", "type": "Expression"}}
        ),
    )
    client = app_host.client
    run_id = client.start_job(client.register_job(pipeline)["job_id"])["run_id"]

    view = app_host.wait_run_done(run_id, timeout=60)

    assert view["result"] == "FAILED"
    assert view["tasks"]["pause"]["message"] == "pause: waitTimeInSeconds is not a number: 'ab'"
