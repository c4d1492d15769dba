"""Run a devhost HTTP server for tests on its own event loop thread, on a free loopback port.

Tests talk to it with a real HTTP client (requests) from the test thread, and run coroutines that need
the server's loop (the unchanged DurableOrchestrationClient, engine calls) through `call`.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Coroutine, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from devhost.app_loader import LoadedApp, load_app
from devhost.engine_api import DurableEngine
from devhost.http.cors import CorsPolicy
from devhost.http.server import HttpHost
from devhost.invoke import FunctionInvoker, close_durable_client_session

T = TypeVar("T")


class LoopThread:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="devhost-test-loop", daemon=True)
        self._thread.start()

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


@dataclass
class Served:
    app: LoadedApp
    host: HttpHost
    engine: Any
    invoker: FunctionInvoker
    loop: LoopThread

    @property
    def origin(self) -> str:
        return self.host.origin

    def url(self, route: str) -> str:
        return self.host.function_url(route)

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        return self.loop.call(coro, timeout)


EngineFactory = Callable[[LoadedApp], DurableEngine]


@contextmanager
def serve_app(
    app_dir: Path,
    engine_factory: EngineFactory,
    *,
    settings: Mapping[str, str] | None = None,
    host_json: Mapping[str, Any] | None = None,
    log: logging.Logger | None = None,
    cors: CorsPolicy | None = None,
    start_engine: Callable[[Any], Coroutine[Any, Any, None]] | None = None,
    stop_engine: Callable[[Any], Coroutine[Any, Any, None]] | None = None,
) -> Iterator[Served]:
    # Extra settings go to the HTTP host only: load_app would export them to os.environ for the whole session.
    app = load_app(app_dir)
    loop = LoopThread()
    engine = engine_factory(app)
    holder: dict[str, HttpHost] = {}
    invoker = FunctionInvoker(
        app_dir=app.app_dir,
        client_binding=lambda hub, conn: holder["host"].client_binding_json(hub, conn),
    )
    host = HttpHost(
        engine=engine,
        http_functions=app.http,
        invoke=invoker.invoke,
        settings={**app.settings, **(settings or {})},
        host_json=host_json if host_json is not None else app.host_json,
        orchestrator_names=list(app.orchestrators),
        cors=cors,
        port=0,
        log=log,
    )
    holder["host"] = host
    try:
        if start_engine is not None:
            loop.call(start_engine(engine))
        loop.call(host.start())
        yield Served(app, host, engine, invoker, loop)
    finally:
        loop.call(host.stop())
        loop.call(close_durable_client_session())
        if stop_engine is not None:
            loop.call(stop_engine(engine))
        invoker.close()
        loop.close()
