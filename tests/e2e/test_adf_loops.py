"""ADF ForEach and Until through devhost + Azurite: a ForEach over GetMetadata's childItems of a blob
folder whose body has two dependent activities (the second fails for one file) runs every file and fails
after all ran, the run view listing each iteration with its inner activities, and every iteration's
AppendVariable reaches the activity after it; an Until whose SetVariable
grows a variable ends after three passes, shown as iterations, and the variable flows on."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from azure.storage.blob import BlobServiceClient

from jobclusters.tracking.table_store import TableRunStore
from tests.e2e.conftest import AppHost
from tests.eventually import eventually

pytestmark = pytest.mark.integration


def _write(path: Path, doc: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc), encoding="utf-8")


def _activity(name: str, kind: str, body: dict[str, Any], after: str | None = None) -> dict[str, Any]:
    activity: dict[str, Any] = {"name": name, "type": kind, "typeProperties": body}
    if after:
        activity["dependsOn"] = [{"activity": after, "dependencyConditions": ["Succeeded"]}]
    return activity


def _expr(text: str) -> dict[str, str]:
    return {"value": text, "type": "Expression"}


def test_a_foreach_over_a_folders_files_runs_a_two_activity_body_per_file(
    app_host: AppHost, tmp_path: Path
) -> None:
    container = "loop" + uuid.uuid4().hex[:10]
    blobs = BlobServiceClient.from_connection_string(app_host.connection).create_container(container)
    for name in ("a.csv", "b.csv", "c.csv"):
        blobs.upload_blob(f"in/{name}", b"id\n1\n")
    root = tmp_path / "factory"
    _write(root / "linkedService" / "lake.json", {"name": "lake", "properties": {"type": "AzureBlobStorage"}})
    location = {"type": "AzureBlobStorageLocation", "container": container, "folderPath": "in"}
    _write(
        root / "dataset" / "folder.json",
        {
            "name": "folder",
            "properties": {
                "linkedServiceName": {"referenceName": "lake", "type": "LinkedServiceReference"},
                "type": "DelimitedText",
                "typeProperties": {"location": location},
            },
        },
    )
    body = [
        _activity("note", "AppendVariable", {"variableName": "seen", "value": _expr("@item().name")}),
        # a wait that is not a number fails: b.csv's second activity fails, the others wait 0 s
        _activity(
            "check",
            "Wait",
            {"waitTimeInSeconds": _expr("@if(contains(variables('seen'), 'b.csv'), 'bad', 0)")},
            "note",
        ),
    ]
    pipeline = {
        "name": "loop_" + uuid.uuid4().hex[:6],
        "properties": {
            "variables": {"seen": {"type": "Array"}},
            "activities": [
                _activity(
                    "list",
                    "GetMetadata",
                    {
                        "dataset": {"referenceName": "folder", "type": "DatasetReference"},
                        "fieldList": ["childItems"],
                    },
                ),
                _activity(
                    "files",
                    "ForEach",
                    {
                        "items": _expr("@activity('list').output.childItems"),
                        "batchCount": 2,
                        "activities": body,
                    },
                    "list",
                ),
                {
                    # reports what the iterations appended, as a Fail's message
                    "name": "count",
                    "type": "Fail",
                    "dependsOn": [{"activity": "files", "dependencyConditions": ["Completed"]}],
                    "typeProperties": {
                        "message": "@concat('seen ', string(length(variables('seen'))))",
                        "errorCode": "E3",
                    },
                },
            ],
        },
    }
    _write(root / "pipeline" / "p.json", pipeline)
    client = app_host.client
    registered = client.register_job(pipeline, base_dir=str(root / "pipeline"), format="adf")

    view = app_host.wait_run_done(client.start_job(registered["job_id"])["run_id"], timeout=120)

    assert view["result"] == "FAILED"
    assert set(view["tasks"]) == {"list", "files", "count"}
    assert view["tasks"]["count"]["message"] == "E3: seen 3", "every iteration's AppendVariable landed"
    loop = view["tasks"]["files"]
    assert loop["state"] == "FAILED"
    assert loop["message"].startswith("1 of 3 iterations failed; first: [1] check:")
    iterations = loop["iterations"]
    assert [(i["index"], i["input"], i["state"]) for i in iterations] == [
        (0, {"name": "a.csv", "type": "File"}, "SUCCESS"),
        (1, {"name": "b.csv", "type": "File"}, "FAILED"),
        (2, {"name": "c.csv", "type": "File"}, "SUCCESS"),
    ]
    assert {n: t["state"] for n, t in iterations[1]["tasks"].items()} == {
        "note": "SUCCESS",
        "check": "FAILED",
    }
    assert {n: t["state"] for n, t in iterations[0]["tasks"].items()} == {
        "note": "SUCCESS",
        "check": "SUCCESS",
    }


def test_an_until_runs_passes_until_its_expression_holds(app_host: AppHost) -> None:
    pipeline = {
        "name": "until_" + uuid.uuid4().hex[:6],
        "properties": {
            "variables": {"n": {"type": "String", "defaultValue": ""}},
            "activities": [
                _activity(
                    "again",
                    "Until",
                    {
                        "expression": _expr("@equals(length(variables('n')), 3)"),
                        "timeout": "0.00:05:00",
                        "activities": [
                            _activity(
                                "grow",
                                "SetVariable",
                                {"variableName": "n", "value": _expr("@concat(variables('n'), 'x')")},
                            ),
                            _activity("pause", "Wait", {"waitTimeInSeconds": 0}, "grow"),
                        ],
                    },
                ),
                _activity(
                    "ret",
                    "SetVariable",
                    {
                        "variableName": "pipelineReturnValue",
                        "value": [
                            {"key": "n", "value": {"type": "Expression", "content": "@variables('n')"}}
                        ],
                    },
                    "again",
                ),
            ],
        },
    }
    client = app_host.client
    run_id = client.start_job(client.register_job(pipeline, format="adf")["job_id"])["run_id"]

    view = app_host.wait_run_done(run_id, timeout=120)

    assert view["result"] == "SUCCESS", view["tasks"]
    again = view["tasks"]["again"]
    assert again["state"] == "SUCCESS"
    assert [(i["index"], i["state"]) for i in again["iterations"]] == [
        (0, "SUCCESS"),
        (1, "SUCCESS"),
        (2, "SUCCESS"),
    ]
    assert set(again["iterations"][2]["tasks"]) == {"grow", "pause"}
    assert view["tasks"]["ret"]["state"] == "SUCCESS"


def test_an_until_that_times_out_stops_the_pass_running_then(app_host: AppHost, tmp_path: Path) -> None:
    """Ground truth: the pass's command is killed at the Until's cap (its marker is never written), and
    the Until reports TIMEDOUT with the pass it stopped."""
    marker = tmp_path / "slept-through"
    custom = {"referenceName": "AzureBatch" + uuid.uuid4().hex[:6], "type": "LinkedServiceReference"}
    pipeline = {
        "name": "until_cap_" + uuid.uuid4().hex[:6],
        "properties": {
            "activities": [
                _activity(
                    "again",
                    "Until",
                    {
                        "expression": _expr("@equals(1, 2)"),
                        "timeout": "0.00:00:04",
                        "activities": [
                            {
                                **_activity("nap", "Custom", {"command": f"sleep 30 && touch {marker}"}),
                                "linkedServiceName": custom,
                            }
                        ],
                    },
                )
            ],
        },
    }
    client = app_host.client
    run_id = client.start_job(client.register_job(pipeline, format="adf")["job_id"])["run_id"]

    view = app_host.wait_run_done(run_id, timeout=60)

    again = view["tasks"]["again"]
    assert again["state"] == "TIMEDOUT", again
    assert again["message"] == "timed out after 0:00:04; pass 1 was stopped; 1 passes ended"
    (stopped,) = again["iterations"]
    assert stopped["tasks"]["nap"]["state"] == "TIMEDOUT"
    assert stopped["state"] == "FAILED"
    assert stopped["message"] == "nap: timed out; the Batch job was terminated"
    ran = datetime.fromisoformat(stopped["tasks"]["nap"]["end"]) - datetime.fromisoformat(stopped["start"])
    assert 4 <= ran.total_seconds() < 15, "stopped at the 4 s cap, not after its 30 s sleep"
    assert not marker.exists(), "the pass's command was killed at the cap"


def test_a_cancel_ends_a_wait_inside_a_foreach_body_at_once(app_host: AppHost, tmp_path: Path) -> None:
    """Ground truth: the clock (each iteration's hour-long Wait ends within seconds of the cancel, in the
    rows in Table storage) and the file system (the command after the Wait never ran)."""
    touch = _expr(f"@concat('touch {tmp_path}/', item())")
    batch = {"referenceName": "AzureBatch" + uuid.uuid4().hex[:6], "type": "LinkedServiceReference"}
    body = [
        _activity("pause", "Wait", {"waitTimeInSeconds": 3600}),
        {
            **_activity("work", "Custom", {"command": touch}, "pause"),
            "linkedServiceName": batch,
        },
    ]
    pipeline = {
        "name": "wait_cancel_" + uuid.uuid4().hex[:6],
        "properties": {
            "activities": [
                _activity("loop", "ForEach", {"items": _expr("@createArray('a', 'b')"), "activities": body})
            ]
        },
    }
    client = app_host.client
    run_id = client.start_job(client.register_job(pipeline, format="adf")["job_id"])["run_id"]

    def pausing() -> bool:
        iterations = client.get_run(run_id)["tasks"]["loop"].get("iterations") or []
        states = [(i.get("tasks") or {}).get("pause", {}).get("state") for i in iterations]
        return states == ["RUNNING", "RUNNING"]

    eventually(pausing, timeout=30, what="both iterations waiting")
    canceled_at = datetime.now(UTC)
    client.cancel_run(run_id, reason="enough")
    assert app_host.wait_run_done(run_id, timeout=30)["result"] == "CANCELED"

    store = TableRunStore(app_host.connection, table_prefix=app_host.table_prefix)

    def rows_settled() -> dict[str, Any] | None:
        rows = {r.task_key: r for r in store.get_run_with_tasks(run_id)[1]}
        done = [rows.get(k) for k in ("loop", "loop[0]/pause", "loop[1]/pause")]
        return rows if all(r is not None and r.state.terminal for r in done) else None

    rows = eventually(rows_settled, timeout=30, what="the loop's and both Waits' final rows")
    for key in ("loop[0]/pause", "loop[1]/pause"):
        pause = rows[key]
        assert pause.state.value == "CANCELED" and pause.end_time is not None, pause
        assert (pause.end_time - canceled_at).total_seconds() < 20, "ended at the cancel, not after an hour"
    assert rows["loop"].state.value == "CANCELED" and "enough" in (rows["loop"].error_message or "")
    assert not list(tmp_path.iterdir()), "the command after the Wait never ran"


def test_an_untils_timeout_stops_a_foreach_inside_its_pass(app_host: AppHost, tmp_path: Path) -> None:
    """Ground truth: the iterations' commands are killed at the Until's 4 s cap (their files are never
    written) and the clock (the Until ends long before the commands' 30 s)."""
    batch = {"referenceName": "AzureBatch" + uuid.uuid4().hex[:6], "type": "LinkedServiceReference"}
    sleeper = _expr(f"@concat('sleep 30 && touch {tmp_path}/', item())")
    loop = _activity(
        "each",
        "ForEach",
        {
            "items": _expr("@createArray('a', 'b')"),
            "activities": [{**_activity("nap", "Custom", {"command": sleeper}), "linkedServiceName": batch}],
        },
    )
    pipeline = {
        "name": "until_loop_" + uuid.uuid4().hex[:6],
        "properties": {
            "activities": [
                _activity(
                    "again",
                    "Until",
                    {"expression": _expr("@equals(1, 2)"), "timeout": "0.00:00:04", "activities": [loop]},
                )
            ]
        },
    }
    client = app_host.client
    run_id = client.start_job(client.register_job(pipeline, format="adf")["job_id"])["run_id"]

    view = app_host.wait_run_done(run_id, timeout=60)

    again = view["tasks"]["again"]
    assert again["state"] == "TIMEDOUT", again
    took = datetime.fromisoformat(again["end"]) - datetime.fromisoformat(again["start"])
    assert took.total_seconds() < 20, "stopped at the 4 s cap, not after the commands' 30 s"
    (stopped,) = again["iterations"]
    assert stopped["tasks"]["each"]["state"] == "FAILED"
    assert not list(tmp_path.iterdir()), "both iterations' commands were killed at the cap"
