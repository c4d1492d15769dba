"""Helpers for engine scenarios: run a coroutine against a fresh engine, wait for states, read histories."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from devhost.app_loader import LoadedApp
from devhost.engine import DurableEngine
from devhost.engine_api import InstanceState
from tests.eventually import eventually_async

APPS = Path(__file__).parent / "apps"
T = TypeVar("T")


def run_with_engine(
    app: LoadedApp,
    scenario: Callable[[DurableEngine], Awaitable[T]],
    store: Path | None = None,
    **options: Any,
) -> T:
    async def main() -> T:
        engine = DurableEngine(app, store, **options)
        await engine.start()
        try:
            return await scenario(engine)
        finally:
            await engine.stop()

    return asyncio.run(main())


async def run_to_end(
    engine: DurableEngine,
    name: str,
    value: Any = None,
    *,
    timeout: float = 20,
    instance_id: str | None = None,
) -> InstanceState:
    input_json = None if value is None else json.dumps(value)
    instance_id = await engine.start_new(name, instance_id=instance_id, input_json=input_json)
    return await engine.wait_for_terminal(instance_id, timeout=timeout)


async def run_to_end_with_history(
    engine: DurableEngine, name: str, value: Any = None, **options: Any
) -> InstanceState:
    """`run_to_end` (same options), then the instance read back with its history."""
    state = await run_to_end(engine, name, value, **options)
    full = await engine.get_instance(state.instance_id, show_history=True)
    assert full is not None
    return full


async def wait_for_custom_status(engine: DurableEngine, instance_id: str, value: Any) -> None:
    async def reached() -> bool:
        state = await engine.get_instance(instance_id)
        return state is not None and state.custom_status == json.dumps(value)

    await eventually_async(reached)


def output(state: InstanceState) -> Any:
    return json.loads(state.output) if state.output is not None else None


def scheduled(history: list[dict[str, Any]]) -> list[tuple[int, int, str]]:
    """(EventType, EventId, Name) of every event the shim scheduled, in history order."""
    return [
        (ev["EventType"], ev["EventId"], str(ev.get("Name") or ""))
        for ev in history
        if ev["EventType"] in (4, 7, 10)
    ]
