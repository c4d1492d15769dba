"""Load a Python v2 Functions app (`function_app.py`) as the Functions host would, and sort its functions.

Each app is imported under a module name unique to this load, so several apps (tests, benchmarks) can live in
one process without colliding on `function_app`. `app.get_functions()` is called exactly once per app object
because the SDK refuses a second call.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# A Function object from `app.get_functions()` (azure.functions.decorators.function_app.Function).
Function = Any

DURABLE_TRIGGERS = {
    "orchestrationTrigger": "orchestration",
    "activityTrigger": "activity",
    "entityTrigger": "entity_name",
}

_load_counter = itertools.count(1)


class AppLoadError(RuntimeError):
    """The app directory cannot be loaded; the message names the file and what was expected."""


@dataclass
class LoadedApp:
    app_dir: Path
    functions: list[Function]
    orchestrators: dict[str, Function] = field(default_factory=dict)
    activities: dict[str, Function] = field(default_factory=dict)
    entities: dict[str, Function] = field(default_factory=dict)
    http: list[Function] = field(default_factory=list)
    others: list[Function] = field(default_factory=list)
    settings: dict[str, str] = field(default_factory=dict)
    host_json: dict[str, Any] = field(default_factory=dict)
    module_name: str = ""

    def durable_task_options(self) -> dict[str, Any]:
        """`extensions.durableTask` from host.json (empty when absent)."""
        ext = self.host_json.get("extensions") or {}
        opts = ext.get("durableTask") if isinstance(ext, dict) else None
        return opts if isinstance(opts, dict) else {}


def trigger_type(fn: Function) -> str:
    trigger = fn.get_trigger()
    return str(trigger.get_binding_name()) if trigger is not None else ""


def durable_name(fn: Function) -> str:
    """The name orchestrators use to call this function: the trigger's explicit name, else the function's."""
    trigger = fn.get_trigger()
    attr = DURABLE_TRIGGERS.get(trigger_type(fn))
    explicit = getattr(trigger, attr, None) if attr else None
    return str(explicit) if explicit else str(fn.get_function_name())


def _read_json_object(path: Path) -> dict[str, Any]:
    """The top-level object of an optional JSON file (empty when the file is absent)."""
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise AppLoadError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise AppLoadError(f"{path}: expected a JSON object at the top level")
    return data


def read_local_settings(app_dir: Path) -> dict[str, str]:
    path = app_dir / "local.settings.json"
    values = _read_json_object(path).get("Values", {})
    if not isinstance(values, dict):
        raise AppLoadError(f"{path}: $.Values must be an object of strings")
    out: dict[str, str] = {}
    for key, value in values.items():
        if isinstance(value, bool):
            out[str(key)] = "true" if value else "false"
        elif value is None:
            continue
        elif isinstance(value, str | int | float):
            out[str(key)] = str(value)
        else:
            raise AppLoadError(f"{path}: $.Values.{key} must be a string, got {type(value).__name__}")
    return out


def read_host_json(app_dir: Path) -> dict[str, Any]:
    return _read_json_object(app_dir / "host.json")


def _find_app_object(module: Any, path: Path) -> Any:
    app = getattr(module, "app", None)
    if app is not None and hasattr(app, "get_functions"):
        return app
    for value in vars(module).values():
        if hasattr(value, "get_functions") and hasattr(value, "function_name"):
            return value
    raise AppLoadError(f"{path}: no FunctionApp/DFApp object found (expected a module-level `app`)")


def load_app(app_dir: Path, *, settings_overrides: Mapping[str, str] | None = None) -> LoadedApp:
    """Import `app_dir/function_app.py` and classify its functions.

    Settings: `local.settings.json` Values are exported to `os.environ` unless the variable already exists
    (the environment wins, as with the real host); `settings_overrides` win over both.
    """
    app_dir = Path(app_dir).resolve()
    entry = app_dir / "function_app.py"
    if not entry.exists():
        raise AppLoadError(f"{entry}: not found (devhost serves Python v2 programming model apps)")

    file_settings = read_local_settings(app_dir)
    settings: dict[str, str] = {}
    for key, value in file_settings.items():
        if key not in os.environ:
            os.environ[key] = value
        settings[key] = os.environ[key]
    for key, value in (settings_overrides or {}).items():
        os.environ[key] = value
        settings[key] = value
    host_json = read_host_json(app_dir)

    if str(app_dir) not in sys.path:
        sys.path.insert(0, str(app_dir))
    module_name = f"_devhost_app_{next(_load_counter)}_function_app"
    spec = importlib.util.spec_from_file_location(module_name, entry)
    if spec is None or spec.loader is None:
        raise AppLoadError(f"{entry}: cannot be imported")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(module_name, None)
        raise AppLoadError(f"{entry}: import failed: {type(exc).__name__}: {exc}") from exc

    app_obj = _find_app_object(module, entry)
    functions = list(app_obj.get_functions())
    loaded = LoadedApp(
        app_dir=app_dir, functions=functions, settings=settings, host_json=host_json, module_name=module_name
    )
    for fn in functions:
        kind = trigger_type(fn)
        if kind == "orchestrationTrigger":
            loaded.orchestrators[durable_name(fn)] = fn
        elif kind == "activityTrigger":
            loaded.activities[durable_name(fn)] = fn
        elif kind == "entityTrigger":
            loaded.entities[durable_name(fn)] = fn
        elif kind == "httpTrigger":
            loaded.http.append(fn)
        else:
            loaded.others.append(fn)
    return loaded
