"""Drive devhost trigger listeners without the rest of devhost: load a test app, invoke user functions
directly, start and stop listeners inside one event loop."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import inspect
import itertools
import logging
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from devhost.listeners import FunctionObject, HostServices, TriggerListener
from devhost.triggers import build_listeners
from devhost.triggers.options import ListenerTuning

APPS = Path(__file__).resolve().parent.parent
FAST = ListenerTuning(blob_poll_interval=0.05, queue_min_poll_interval=0.02, servicebus_poll_interval=0.02)
_counter = itertools.count()


def load_app(app_dir: Path) -> tuple[ModuleType, list[FunctionObject]]:
    """A fresh copy of the app module (own globals, own app object) and its functions."""
    name = f"triggers_test_app_{next(_counter)}"
    spec = importlib.util.spec_from_file_location(name, app_dir / "function_app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module, list(module.app.get_functions())


async def direct_invoke(function: FunctionObject, args: dict[str, Any]) -> Any:
    user = function.get_user_function()
    if inspect.iscoroutinefunction(user):
        return await user(**args)
    return await asyncio.to_thread(user, **args)


def services(state_dir: Path, settings: Mapping[str, str], host_json: Mapping[str, Any] | None = None,
             log: logging.Logger | None = None) -> HostServices:
    return HostServices(
        app_dir=APPS / "triggers_app",
        state_dir=state_dir,
        settings=dict(settings),
        host_json=dict(host_json or {"version": "2.0"}),
        invoke=direct_invoke,
        log=log or logging.getLogger("devhost.test"),
    )


async def start(host: HostServices, functions: Sequence[FunctionObject], names: set[str],
                tuning: ListenerTuning = FAST) -> list[TriggerListener]:
    chosen = [f for f in functions if f.get_function_name() in names]
    listeners = build_listeners(host, chosen, tuning=tuning)
    for listener in listeners:
        await listener.start()
    return listeners


async def stop(listeners: Sequence[TriggerListener]) -> None:
    for listener in listeners:
        await listener.stop()


@contextlib.asynccontextmanager
async def running(names: set[str], state_dir: Path, settings: Mapping[str, str],
                  host_json: Mapping[str, Any] | None = None) -> AsyncIterator[ModuleType]:
    """The test app, freshly loaded, with the named functions' listeners started; stopped on the way out."""
    module, functions = load_app(APPS / "triggers_app")
    listeners = await start(services(state_dir, settings, host_json), functions, names)
    try:
        yield module
    finally:
        await stop(listeners)
