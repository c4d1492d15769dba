"""One aiohttp server on loopback: HTTP-triggered functions under the route prefix, the Durable webhooks
and the durable client's RPC base, and a tiny admin surface (`/admin/host/status`)."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from aiohttp import web

from devhost.engine_api import DurableEngine
from devhost.http.auth import AuthLevel, HostKeys, presented_key, unauthorized
from devhost.http.cors import CorsPolicy
from devhost.http.durable_api import DurableApi
from devhost.http.functions import (
    HttpRoute,
    build_route_table,
    match_route,
    to_function_request,
    to_web_response,
)
from devhost.http.links import WEBHOOK_PATH, DurableLinks
from devhost.http.redact import redact_target
from devhost.invoke import OutValue
from devhost.listeners import Invoke

DEFAULT_TASK_HUB = "TestHubName"
DEFAULT_ROUTE_PREFIX = "api"
MAX_BODY_BYTES = 100 * 1024 * 1024
SHUTDOWN_GRACE_SECONDS = 5.0  # in-flight requests get this long to finish on stop
FUNCTION_NAME_KEY = web.RequestKey("devhost_function", str)


def route_prefix(host_json: Mapping[str, Any]) -> str:
    http = (host_json.get("extensions") or {}).get("http") or {}
    prefix = http.get("routePrefix", DEFAULT_ROUTE_PREFIX)
    if prefix is None:
        return ""
    if not isinstance(prefix, str):
        raise ValueError(f"host.json extensions.http.routePrefix: expected a string, got {prefix!r}")
    return prefix.strip("/")


def task_hub_name(host_json: Mapping[str, Any]) -> str:
    durable = (host_json.get("extensions") or {}).get("durableTask") or {}
    hub = durable.get("hubName") or DEFAULT_TASK_HUB
    return str(hub)


class HttpHost:
    """Serves HTTP triggers and the Durable HTTP API; `start()` binds, `stop()` closes."""

    def __init__(
        self,
        *,
        engine: DurableEngine,
        http_functions: Iterable[Any],
        invoke: Invoke,
        settings: Mapping[str, str],
        host_json: Mapping[str, Any],
        orchestrator_names: Iterable[str] | None = None,
        cors: CorsPolicy | None = None,
        host: str = "127.0.0.1",
        port: int = 7071,
        log: logging.Logger | None = None,
    ) -> None:
        self.log = log or logging.getLogger("devhost.http")
        self.engine = engine
        self.invoke = invoke
        self.keys = HostKeys.from_settings(settings)
        self.prefix = route_prefix(host_json)
        self.task_hub = task_hub_name(host_json)
        self.routes = build_route_table(http_functions, self.log)
        self.orchestrator_names = list(orchestrator_names) if orchestrator_names is not None else None
        self.cors = cors
        self.host = host
        self.requested_port = port
        self._runner: web.AppRunner | None = None
        self._links: DurableLinks | None = None
        self._api: DurableApi | None = None

    @property
    def links(self) -> DurableLinks:
        if self._links is None:
            raise RuntimeError("the HTTP server is not started yet")
        return self._links

    @property
    def origin(self) -> str:
        return self.links.origin

    @property
    def port(self) -> int:
        return int(self.links.origin.rsplit(":", 1)[1])

    def client_binding_json(self, task_hub: str | None = None, connection: str | None = None) -> str:
        return self.links.client_binding_json(task_hub=task_hub, connection=connection)

    def function_url(self, route: str) -> str:
        prefix = f"/{self.prefix}" if self.prefix else ""
        return f"{self.origin}{prefix}/{route.lstrip('/')}"

    async def start(self) -> None:
        app = web.Application(client_max_size=MAX_BODY_BYTES, middlewares=[self._access_log])
        app.router.add_route("*", "/{tail:[\\s\\S]*}", self._dispatch)
        runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=SHUTDOWN_GRACE_SECONDS
        )
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.requested_port, reuse_address=True)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise OSError(
                f"cannot listen on {self.host}:{self.requested_port} ({exc.strerror or exc}); "
                "choose another port with --port"
            ) from exc
        self._runner = runner
        bound_port = runner.addresses[0][1]
        host_text = f"[{self.host}]" if ":" in self.host else self.host
        self._links = DurableLinks(
            origin=f"http://{host_text}:{bound_port}",
            task_hub=self.task_hub,
            system_key=self.keys.durabletask_key,
        )
        self._api = DurableApi(
            self.engine, self._links, orchestrator_names=self.orchestrator_names, log=self.log
        )
        for route in self.routes:
            methods = ",".join(sorted(route.methods)) if route.methods else "*"
            self.log.info(
                "Function %s: [%s] %s (%s)",
                route.name,
                methods,
                self.function_url(route.template.template),
                route.auth_level,
            )
        if not self.keys.enforced and any(r.auth_level is not AuthLevel.ANONYMOUS for r in self.routes):
            self.log.info(
                "No function or master key set: keys are not enforced "
                "(set DEVHOST_FUNCTION_KEY / DEVHOST_MASTER_KEY to enforce them)"
            )

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @web.middleware
    async def _access_log(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        started = time.perf_counter()
        status = 500
        try:
            response: web.StreamResponse
            if self.cors is not None and self.cors.is_preflight(request):
                response = self.cors.preflight(request)
            else:
                response = await handler(request)
                if self.cors is not None:
                    self.cors.decorate(request, response)
            status = response.status
            return response
        finally:
            if self.log.isEnabledFor(logging.DEBUG):
                hidden = [self._links.rpc_token] if self._links else []
                target = redact_target(request.rel_url.raw_path, request.rel_url.raw_query_string, hidden)
                function = request.get(FUNCTION_NAME_KEY)
                suffix = f" [{function}]" if function else ""
                self.log.debug(
                    "%s %s -> %d (%.0f ms)%s",
                    request.method,
                    target,
                    status,
                    (time.perf_counter() - started) * 1000,
                    suffix,
                )

    def _authorized(self, request: web.Request, level: AuthLevel) -> bool:
        return self.keys.allows(level, presented_key(request.query, request.headers))

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        api, links = self._api, self._links
        if api is None or links is None:
            return web.Response(status=503)
        path = request.path
        if path == links.rpc_path or path.startswith(links.rpc_path + "/"):
            return await api.handle(request, path[len(links.rpc_path) :])
        if path == WEBHOOK_PATH or path.startswith(WEBHOOK_PATH + "/"):
            if not self._authorized(request, AuthLevel.SYSTEM):
                return unauthorized()
            return await api.handle(request, path[len(WEBHOOK_PATH) :])
        if path.lower().startswith("/admin/"):
            return await self._admin(request)
        raw_path = request.rel_url.raw_path
        relative: str | None = raw_path
        if self.prefix:
            head = f"/{self.prefix}"
            lowered = raw_path.lower()
            if lowered == head.lower() or lowered.startswith(head.lower() + "/"):
                relative = raw_path[len(head) :]
            else:
                relative = None
        if relative is not None:
            found = match_route(self.routes, relative, request.method)
            if found is not None:
                route, values = found
                request[FUNCTION_NAME_KEY] = route.name
                if not self._authorized(request, route.auth_level):
                    return unauthorized()
                return await self._call_function(request, route, values)
        if path == "/" and request.method in ("GET", "HEAD"):
            return web.Response(text="devhost: the Functions host is running.\n")
        return web.Response(status=404)

    async def _call_function(
        self, request: web.Request, route: HttpRoute, values: dict[str, str]
    ) -> web.Response:
        args: dict[str, Any] = {route.trigger_param: await to_function_request(request, values)}
        out: OutValue[Any] | None = None
        if route.output_param != "$return":
            out = OutValue()
            args[route.output_param] = out
        try:
            result = await self.invoke(route.function, args)
        except Exception:
            return web.Response(status=500)  # the invoker has logged the failure
        try:
            return to_web_response(out if out is not None else result, route.name)
        except Exception as exc:
            self.log.error("HTTP function %s: bad response: %s", route.name, exc)
            return web.Response(status=500)

    async def _admin(self, request: web.Request) -> web.StreamResponse:
        if not self._authorized(request, AuthLevel.ADMIN):
            return unauthorized()
        if request.path.lower().rstrip("/") == "/admin/host/status" and request.method == "GET":
            return web.json_response({"state": "Running", "processUptime": None, "version": "devhost"})
        return web.Response(status=404)
