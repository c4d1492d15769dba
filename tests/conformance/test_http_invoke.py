"""`FunctionInvoker`: what the host adds to a call (durable client, context) and how it runs the code."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from devhost.app_loader import LoadedApp
from devhost.engine import DurableEngine
from devhost.invoke import OutValue, UnservedBinding
from tests.conformance.apps.http_support.harness import Served, serve_app

APP_DIR = Path(__file__).parent / "apps" / "http_invoke"


def _engine(app: LoadedApp) -> DurableEngine:
    return DurableEngine(app, None)


async def _start(engine: DurableEngine) -> None:
    await engine.start()


async def _stop(engine: DurableEngine) -> None:
    await engine.stop()


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    with serve_app(APP_DIR, _engine, start_engine=_start, stop_engine=_stop) as s:
        yield s


def function(served: Served, name: str) -> object:
    return next(f for f in served.app.functions if f.get_function_name() == name)


def test_a_non_http_function_gets_a_working_durable_client(served: Served) -> None:
    instance_id = served.call(served.invoker.invoke(function(served, "queue_starter"), {"msg": "ping"}))
    state = served.call(served.engine.wait_for_terminal(instance_id, 20))
    assert json.loads(state.output) == "ping"


def test_sync_function_runs_off_the_loop_thread_with_context_and_out(served: Served) -> None:
    out: OutValue[str] = OutValue()
    result = served.call(served.invoker.invoke(function(served, "sync_worker"), {"msg": "m", "out": out}))
    assert result is None
    text, name, thread = out.get().split("|")
    assert (text, name) == ("m", "sync_worker")
    assert thread.startswith("devhost-fn")
    assert thread != threading.current_thread().name


def test_an_unserved_input_binding_is_a_clear_error(served: Served) -> None:
    with pytest.raises(UnservedBinding, match=r"'needs_blob_input'.*'extra' \(binding type 'blob'\)"):
        served.call(served.invoker.invoke(function(served, "needs_blob_input"), {"blob": object()}))
