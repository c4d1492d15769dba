"""The monitor's static route: files of the assets folder only, no key, security headers; validate stores
nothing and answers like the API; the CLI's URL carries the key in the fragment only."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import pytest

from jobclusters.commands.ui import monitor_url
from jobclusters.services.factory import TriggerServices
from jobclusters.settings import Settings
from triggers import ui

SERVICES = cast(TriggerServices, SimpleNamespace(settings=Settings.model_validate({})))


@pytest.fixture
def assets(tmp_path: Path) -> Path:
    root = tmp_path / "ui_assets"
    root.mkdir()
    (root / "index.html").write_text("<!doctype html><title>m</title>")
    (root / "app.js").write_text("console.log(1)")
    (tmp_path / "secret.js").write_text("nope")
    (root / "notes.py").write_text("x = 1")
    return root


def test_index_and_assets_are_served_with_their_type_and_a_strict_policy(assets: Path) -> None:
    index = ui.asset_response("", assets)
    script = ui.asset_response("app.js", assets)
    assert (index.status_code, index.get_body()) == (200, b"<!doctype html><title>m</title>")
    assert index.headers["Content-Type"].startswith("text/html")
    assert script.headers["Content-Type"].startswith("text/javascript")
    assert "script-src 'self'" in index.headers["Content-Security-Policy"]
    assert index.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(
    "path", ["../secret.js", "%2e%2e/secret.js", "notes.py", "missing.js", "/etc/passwd"]
)
def test_nothing_outside_the_assets_folder_or_of_an_unknown_type_is_served(assets: Path, path: str) -> None:
    assert ui.asset_response(path, assets).status_code == 404


def test_a_missing_file_is_a_json_error_like_the_apis(assets: Path) -> None:
    import json

    answer = ui.asset_response("missing.js", assets)
    assert answer.mimetype == "application/json"
    assert json.loads(answer.get_body())["error"]["code"] == "asset_not_found"


def test_an_unbuilt_monitor_says_how_to_build_it(tmp_path: Path) -> None:
    answer = ui.asset_response("", tmp_path)
    assert answer.status_code == 503
    assert b"make setup" in answer.get_body()


def test_validate_returns_each_problem_with_its_json_path_and_stores_nothing() -> None:
    bad = {
        "definition": {
            "format": "jobclusters/v1",
            "name": "x",
            "tasks": [{"key": "a", "retry": {"max_retries": "many"}}],
        }
    }
    status, body = asyncio.run(ui.validate(bad, SERVICES))
    assert status == 400
    assert body["error"]["code"] == "invalid_definition"
    assert any(p["path"].startswith("$.definition.tasks[0]") for p in body["error"]["problems"])


def test_a_valid_definition_comes_back_normalized() -> None:
    good = {
        "format": "jobclusters/v1",
        "name": "ok",
        "tasks": [{"key": "a", "payload": {"kind": "fail", "message": "no"}}],
    }
    status, body = asyncio.run(ui.validate(good, SERVICES))
    assert status == 200, json.dumps(body)
    assert body["valid"] is True
    assert [t["key"] for t in body["job"]["tasks"]] == ["a"]


def test_the_cli_url_keeps_the_key_in_the_fragment() -> None:
    assert monitor_url("http://127.0.0.1:7071/", "k/+1", "run-abc") == (
        "http://127.0.0.1:7071/api/ui/#/runs/run-abc?key=k%2F%2B1"
    )
    assert monitor_url("http://h", None) == "http://h/api/ui/#/runs"
