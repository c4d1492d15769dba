"""app_loader: discovery, durable names, settings precedence, unique module names."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from devhost.app_loader import AppLoadError, load_app

APPS = Path(__file__).parent / "apps"


def test_functions_are_sorted_by_trigger_and_durable_name(tmp_path: Path) -> None:
    app = load_app(APPS / "basic")
    assert "chaining" in app.orchestrators
    assert "FanOut" in app.orchestrators and "fan_out" not in app.orchestrators
    assert {"double", "async_greet", "boom"} <= set(app.activities)
    assert [f.get_function_name() for f in app.http] == ["hello"]
    assert list(app.entities) == ["Counter"]
    assert app.others == []
    assert len(app.functions) == len(app.orchestrators) + len(app.activities) + len(app.entities) + len(
        app.http
    )


def test_two_loads_of_the_same_app_get_distinct_modules() -> None:
    first = load_app(APPS / "basic")
    second = load_app(APPS / "basic")
    assert first.module_name != second.module_name
    assert first.module_name in sys.modules and second.module_name in sys.modules


def test_environment_wins_over_local_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "function_app.py").write_text(
        "import azure.durable_functions as df\napp = df.DFApp()\n", encoding="utf-8"
    )
    (tmp_path / "local.settings.json").write_text(
        json.dumps({"Values": {"DEVHOST_T_A": "file", "DEVHOST_T_B": "file", "DEVHOST_T_C": True}}),
        encoding="utf-8",
    )
    (tmp_path / "host.json").write_text(json.dumps({"version": "2.0"}), encoding="utf-8")
    monkeypatch.setenv("DEVHOST_T_A", "env")
    monkeypatch.delenv("DEVHOST_T_B", raising=False)
    monkeypatch.delenv("DEVHOST_T_C", raising=False)
    app = load_app(tmp_path, settings_overrides={"DEVHOST_T_D": "override"})
    assert app.settings["DEVHOST_T_A"] == "env"
    assert app.settings["DEVHOST_T_B"] == "file" and os.environ["DEVHOST_T_B"] == "file"
    assert app.settings["DEVHOST_T_C"] == "true"
    assert app.settings["DEVHOST_T_D"] == "override"
    assert app.host_json == {"version": "2.0"}


def test_bad_local_settings_names_the_field(tmp_path: Path) -> None:
    (tmp_path / "function_app.py").write_text("app = None\n", encoding="utf-8")
    (tmp_path / "local.settings.json").write_text(json.dumps({"Values": {"X": [1]}}), encoding="utf-8")
    with pytest.raises(AppLoadError, match=r"\$\.Values\.X must be a string"):
        load_app(tmp_path)


def test_missing_function_app_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(AppLoadError, match="function_app.py: not found"):
        load_app(tmp_path)
