"""WebActivity against a loopback HTTP server and GetMetadata / Lookup on Azurite blobs, through devhost:
datasets and linked services read from an ADF git layout; each output is the task's recorded output
(what `@activity('x').output` reads); a header's secret appears nowhere in the run."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.storage.blob import BlobServiceClient

from tests.e2e.conftest import FUNCTION_KEY, AppHost
from tests.loopback import loopback

pytestmark = pytest.mark.integration

SECRET = FUNCTION_KEY  # an app setting of the host (DEVHOST_FUNCTION_KEY), named as %DEVHOST_FUNCTION_KEY%


def _answer(method: str, path: str, headers: dict[str, str], body: Any) -> tuple[int, Any]:
    if method == "POST":
        return 200, {"echo": body, "rows": 3}
    return 404, {"error": "not here"}


@pytest.fixture
def web_server() -> Iterator[tuple[str, list[tuple[str, str, dict[str, str], Any]]]]:
    with loopback(_answer) as served:
        yield served


def _write(path: Path, doc: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc), encoding="utf-8")


def _dataset(name: str, kind: str, container: str, folder: str, file: str | None = None, **tp: Any) -> dict:
    location: dict[str, Any] = {
        "type": "AzureBlobStorageLocation",
        "container": container,
        "folderPath": folder,
    }
    if file:
        location["fileName"] = file
    return {
        "name": name,
        "properties": {
            "linkedServiceName": {"referenceName": "lake", "type": "LinkedServiceReference"},
            "type": kind,
            "typeProperties": {"location": location, **tp},
        },
    }


def _activity(name: str, kind: str, body: dict[str, Any], after: str | None = None) -> dict[str, Any]:
    activity: dict[str, Any] = {"name": name, "type": kind, "typeProperties": body}
    if after:
        activity["dependsOn"] = [{"activity": after, "dependencyConditions": ["Completed"]}]
    return activity


def _ref(name: str, **parameters: Any) -> dict[str, Any]:
    return {"referenceName": name, "type": "DatasetReference", "parameters": parameters}


def _outputs(view: dict[str, Any]) -> dict[str, Any]:
    return {key: task["attempt_history"][-1].get("output") for key, task in view["tasks"].items()}


def test_web_getmetadata_and_lookup_outputs_in_a_git_layout(
    app_host: AppHost,
    tmp_path: Path,
    web_server: tuple[str, list[tuple[str, str, dict[str, str], Any]]],
) -> None:
    origin, requests = web_server
    container = "data" + uuid.uuid4().hex[:10]
    blobs = BlobServiceClient.from_connection_string(app_host.connection).create_container(container)
    blobs.upload_blob("in/2026/a.csv", b"id,name\n1,ann\n2,bob\n")
    blobs.upload_blob("in/2026/b.csv", b"id,name\n3,cy\n")
    blobs.upload_blob("in/2026/sub/c.csv", b"id,name\n")
    blobs.upload_blob("config/settings.json", b'{"region": "eu", "limit": 5}')

    root = tmp_path / "factory"
    _write(root / "linkedService" / "lake.json", {"name": "lake", "properties": {"type": "AzureBlobStorage"}})
    _write(
        root / "dataset" / "csv_folder.json",
        _dataset("csv_folder", "DelimitedText", container, "@dataset().folder", firstRowAsHeader=True) | {},
    )
    folder_ds = json.loads((root / "dataset" / "csv_folder.json").read_text())
    folder_ds["properties"]["parameters"] = {"folder": {"type": "String", "defaultValue": "in"}}
    _write(root / "dataset" / "csv_folder.json", folder_ds)
    _write(
        root / "dataset" / "settings.json", _dataset("settings", "Json", container, "config", "settings.json")
    )
    _write(root / "dataset" / "gone.json", _dataset("gone", "Json", container, "config", "missing.json"))
    pipeline = {
        "name": "data_" + uuid.uuid4().hex[:6],
        "properties": {
            "activities": [
                _activity(
                    "ask",
                    "WebActivity",
                    {
                        "url": f"{origin}/api/count",
                        "method": "POST",
                        "headers": {"x-api-key": "%DEVHOST_FUNCTION_KEY%"},
                        "body": {"day": "2026-01-01"},
                    },
                ),
                _activity(
                    "missing_page",
                    "WebActivity",
                    {
                        "url": f"{origin}/nothing?sig=abc",
                        "method": "GET",
                        "headers": {"x-api-key": "%DEVHOST_FUNCTION_KEY%"},
                    },
                ),
                _activity(
                    "list",
                    "GetMetadata",
                    {
                        "dataset": _ref("csv_folder", folder="in/2026"),
                        "fieldList": ["childItems", "exists", "itemName"],
                    },
                ),
                _activity("probe", "GetMetadata", {"dataset": _ref("gone"), "fieldList": ["exists"]}),
                _activity(
                    "rows", "Lookup", {"dataset": _ref("csv_folder", folder="in/2026"), "firstRowOnly": False}
                ),
                _activity("first", "Lookup", {"dataset": _ref("settings")}),
            ]
        },
    }
    _write(root / "pipeline" / "p.json", pipeline)
    client = app_host.client
    registered = client.register_job(pipeline, base_dir=str(root / "pipeline"), format="adf")
    view = app_host.wait_run_done(client.start_job(registered["job_id"])["run_id"])

    states = {k: t["state"] for k, t in view["tasks"].items()}
    assert states == {
        "ask": "SUCCESS",
        "missing_page": "FAILED",
        "list": "SUCCESS",
        "probe": "SUCCESS",
        "rows": "SUCCESS",
        "first": "SUCCESS",
    }
    out = _outputs(view)
    assert out["ask"] == {"echo": {"day": "2026-01-01"}, "rows": 3}
    seen = [{"path": p, "key": h.get("x-api-key"), "body": b} for m, p, h, b in requests if m == "POST"]
    assert {"path": "/api/count", "key": SECRET, "body": {"day": "2026-01-01"}} in seen
    assert view["tasks"]["missing_page"]["message"].endswith('/nothing answered 404: {"error": "not here"}')
    assert out["list"] == {
        "childItems": [
            {"name": "a.csv", "type": "File"},
            {"name": "b.csv", "type": "File"},
            {"name": "sub", "type": "Folder"},
        ],
        "exists": True,
        "itemName": "2026",
    }
    assert out["probe"] == {"exists": False}
    assert out["rows"] == {
        "count": 3,
        "value": [{"id": "1", "name": "ann"}, {"id": "2", "name": "bob"}, {"id": "3", "name": "cy"}],
    }
    assert out["first"] == {"firstRow": {"region": "eu", "limit": 5}}
    assert SECRET not in json.dumps(view)
    assert "sig=abc" not in json.dumps(view)
