"""`python -m devhost --app DIR start`: run the whole host until SIGINT/SIGTERM.

Start order: settings and app, local storage (Azurite when the app asks for development storage), the
durable engine with its SQLite state, the HTTP server (functions + Durable API), then event-trigger
listeners. Shutdown runs the same list backwards, so nothing accepts work its dependencies can no longer do.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import re
import signal
import sys
from collections.abc import Callable, Mapping
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

from devhost.azurite import AzuriteProcess, AzuriteUnavailable, ensure_local_storage
from devhost.http.auth import HostKeys
from devhost.http.cors import CorsPolicy, read_host_section
from devhost.http.redact import SecretScrubber
from devhost.http.server import HttpHost
from devhost.invoke import FunctionInvoker, close_durable_client_session
from devhost.listeners import HostServices
from devhost.running import DEFAULT_STATE_DIR_NAME, running_record

DEFAULT_PORT = 7071
STATE_DIR_NAME = DEFAULT_STATE_DIR_NAME
STATE_FILE = "devhost.sqlite3"
_SECRET_NAME = re.compile(r"(KEY|SECRET|PASSWORD|TOKEN)", re.IGNORECASE)
_SECRET_PART = re.compile(
    r"(?:AccountKey|SharedAccessKey|SharedAccessSignature|Password)=([^;]+)", re.IGNORECASE
)

log = logging.getLogger("devhost")


def add_start_command(subparsers: Any) -> None:
    cmd = subparsers.add_parser(
        "start",
        help="run the host until interrupted (HTTP triggers, Durable client API, orchestrations, triggers)",
        description="Serves on 127.0.0.1 only. State (SQLite, Azurite data) lives under --state.",
    )
    cmd.add_argument(
        "--port",
        type=int,
        default=None,
        help=f"HTTP port (default: Host.LocalHttpPort of local.settings.json, else {DEFAULT_PORT})",
    )
    cmd.add_argument(
        "--state", type=Path, default=None, help=f"state directory (default <app>/{STATE_DIR_NAME})"
    )
    cmd.add_argument("--verbose", dest="start_verbose", action="store_true", help="log every HTTP request")
    cmd.set_defaults(handler=run_start)


def secret_values(settings: Mapping[str, str], keys: HostKeys) -> list[str]:
    """Values never to print: host keys, settings named like secrets, key parts of connection strings."""
    values = list(keys.secrets())
    for name, value in settings.items():
        if not value:
            continue
        looks_secret = len(value) >= 8 and "=" not in value and not value.isdigit()
        if _SECRET_NAME.search(name) and looks_secret:
            values.append(value)
        values += _SECRET_PART.findall(value)
    return values


def install_scrubber(secrets: list[str]) -> SecretScrubber:
    scrubber = SecretScrubber(secrets)
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for handler in root.handlers:
        handler.addFilter(scrubber)
    return scrubber


def start_storage(connection: str | None, state_dir: Path, app_dir: Path) -> AzuriteProcess | None:
    """Azurite for `UseDevelopmentStorage=true`, found next to the app or next to devhost itself."""
    try:
        return ensure_local_storage(connection, state_dir, project_dir=app_dir)
    except AzuriteUnavailable:
        return ensure_local_storage(connection, state_dir, project_dir=Path(__file__).resolve().parent.parent)


async def serve(
    app_dir: Path,
    *,
    port: int | None = None,
    state_dir: Path | None = None,
    stop: asyncio.Event | None = None,
    on_ready: Callable[[HttpHost], None] | None = None,
) -> int:
    """Run until `stop` is set (or SIGINT/SIGTERM when `stop` is None). Returns the process exit code."""
    from devhost.app_loader import load_app
    from devhost.engine import DurableEngine
    from devhost.triggers import build_listeners

    app = load_app(app_dir)
    host_section = read_host_section(app.app_dir)
    cors = CorsPolicy.from_host_section(host_section)
    if port is None:
        port = _local_http_port(host_section)
    settings: dict[str, str] = {**os.environ, **app.settings}
    keys = HostKeys.from_settings(settings)
    install_scrubber(secret_values(settings, keys))
    state = (state_dir or app.app_dir / STATE_DIR_NAME).resolve()
    state.mkdir(parents=True, exist_ok=True)

    stop = stop or _signal_event()
    async with AsyncExitStack() as stack:
        azurite = await asyncio.to_thread(
            start_storage, settings.get("AzureWebJobsStorage"), state, app.app_dir
        )
        if azurite is not None:
            log.info("Azurite started for development storage (data under %s)", state / "azurite")
            stack.callback(azurite.stop)

        engine = DurableEngine(app, state / STATE_FILE)
        await engine.start()
        stack.push_async_callback(engine.stop)

        holder: dict[str, HttpHost] = {}
        invoker = FunctionInvoker(
            app_dir=app.app_dir,
            client_binding=lambda hub, conn: holder["host"].client_binding_json(hub, conn),
        )
        stack.callback(invoker.close)
        engine.runner.client_binding = invoker.client_binding
        stack.push_async_callback(close_durable_client_session)
        host = HttpHost(
            engine=engine,
            http_functions=app.http,
            invoke=invoker.invoke,
            settings=settings,
            host_json=app.host_json,
            orchestrator_names=list(app.orchestrators),
            cors=cors,
            port=port,
            log=logging.getLogger("devhost.http"),
        )
        holder["host"] = host
        try:
            await host.start()
        except OSError as exc:
            log.error("%s", exc)
            return 2
        stack.push_async_callback(host.stop)
        stack.enter_context(running_record(app.app_dir, state, port))

        services = HostServices(
            app_dir=app.app_dir,
            state_dir=state,
            settings=settings,
            host_json=app.host_json,
            invoke=invoker.invoke,
            log=logging.getLogger("devhost.triggers"),
        )
        for listener in build_listeners(services, app.others):
            try:
                await listener.start()
            except Exception as exc:  # one broken trigger must not take the host down
                log.error("%s did not start: %s: %s", type(listener).__name__, type(exc).__name__, exc)
                continue
            stack.push_async_callback(listener.stop)

        log.info(
            "devhost started: %s (%d HTTP, %d orchestrator, %d activity, %d other function(s)); state in %s",
            host.origin,
            len(app.http),
            len(app.orchestrators),
            len(app.activities),
            len(app.others),
            state,
        )
        if on_ready is not None:
            on_ready(host)
        await stop.wait()
        log.info("devhost stopping")
    log.info("devhost stopped")
    return 0


def _local_http_port(host_section: Mapping[str, Any]) -> int:
    value = host_section.get("LocalHttpPort", DEFAULT_PORT)
    try:
        port = int(value)
    except (TypeError, ValueError):
        port = -1
    if not 0 <= port <= 65535:
        raise ValueError(f"local.settings.json $.Host.LocalHttpPort: expected a port number, got {value!r}")
    return port


def _signal_event() -> asyncio.Event:
    event = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        # Not the main thread, or no signal support: the caller stops us some other way.
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, event.set)
    return event


def run_start(args: argparse.Namespace) -> int:
    verbose = bool(getattr(args, "verbose", False) or getattr(args, "start_verbose", False))
    logging.getLogger().setLevel(logging.DEBUG if verbose else logging.INFO)
    if not verbose:
        logging.getLogger("asyncio").setLevel(logging.WARNING)
    if args.port is not None and not 0 <= args.port <= 65535:
        print(f"--port: expected 0-65535, got {args.port}", file=sys.stderr)
        return 2
    try:
        return asyncio.run(serve(args.app, port=args.port, state_dir=args.state))
    except ValueError as exc:
        if "local.settings.json" not in str(exc):
            raise
        print(f"--app: {exc}", file=sys.stderr)
        return 2
