"""HTTP-triggered functions: route table, and conversion between aiohttp and `azure.functions` types."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import azure.functions as func
from aiohttp import web

from devhost.http.auth import AuthLevel
from devhost.http.routes import RouteTemplate, RouteTemplateError, parse_route
from devhost.invoke import OutValue, binding_dicts
from devhost.listeners import FunctionObject

HTTP_TRIGGER = "httpTrigger"
HTTP_OUTPUT = "http"


@dataclass(frozen=True)
class HttpRoute:
    function: FunctionObject
    name: str
    template: RouteTemplate
    methods: frozenset[str] | None  # None: every method
    auth_level: AuthLevel
    trigger_param: str
    output_param: str  # "$return" or the name of an `Out` parameter

    def allows_method(self, method: str) -> bool:
        return self.methods is None or method.upper() in self.methods


def http_route_for(function: FunctionObject) -> HttpRoute:
    """Read a function's HTTP trigger; raises ValueError naming the function and the bad field."""
    name = function.get_function_name()
    bindings = binding_dicts(function)
    trigger = next((b for b in bindings if b.get("type") == HTTP_TRIGGER), None)
    if trigger is None:
        raise ValueError(f"function {name!r}: no httpTrigger binding")
    route_text = trigger.get("route")
    if route_text is None:
        route_text = name
    try:
        template = parse_route(str(route_text))
    except RouteTemplateError as exc:
        raise ValueError(f"function {name!r}: bindings[httpTrigger].route: {exc}") from exc
    raw_methods = trigger.get("methods")
    methods = frozenset(str(getattr(m, "value", m)).upper() for m in raw_methods) if raw_methods else None
    try:
        auth = AuthLevel.parse(trigger.get("authLevel"))
    except ValueError as exc:
        raise ValueError(f"function {name!r}: bindings[httpTrigger].{exc}") from exc
    output = next((b["name"] for b in bindings if b.get("type") == HTTP_OUTPUT), "$return")
    return HttpRoute(function, name, template, methods, auth, str(trigger["name"]), output)


def build_route_table(functions: Iterable[FunctionObject], log: logging.Logger) -> list[HttpRoute]:
    """Routes ordered most specific first; a function with a bad trigger is skipped with an error line."""
    routes: list[HttpRoute] = []
    for function in functions:
        try:
            routes.append(http_route_for(function))
        except ValueError as exc:
            log.error("HTTP function not served: %s", exc)
    routes.sort(key=lambda r: (r.template.precedence, r.template.template.lower()))
    return routes


def match_route(
    routes: Iterable[HttpRoute], raw_path: str, method: str
) -> tuple[HttpRoute, dict[str, str]] | None:
    for route in routes:
        if not route.allows_method(method):
            continue
        values = route.template.match(raw_path)
        if values is not None:
            return route, values
    return None


async def to_function_request(request: web.Request, route_params: Mapping[str, str]) -> func.HttpRequest:
    body = await request.read()
    headers: dict[str, str] = {}
    for key in request.headers:
        if key.lower() not in headers:
            headers[key.lower()] = ", ".join(request.headers.getall(key))
    params = {key: request.query.getall(key)[-1] for key in request.query}
    return func.HttpRequest(
        method=request.method,
        url=str(request.url),
        headers=headers,
        params=params,
        route_params=dict(route_params),
        body=body,
    )


def to_web_response(result: Any, function_name: str) -> web.Response:
    """Turn what the function returned (or set on its `Out`) into the HTTP response, as the worker does."""
    if isinstance(result, OutValue):
        result = result.get()
    if result is None:
        return web.Response(status=204)
    if isinstance(result, func.HttpResponse):
        response = web.Response(status=result.status_code, body=result.get_body())
        for key, value in result.headers.items():
            response.headers.add(key, value)
        if "content-type" not in {str(k).lower() for k, _ in result.headers.items()}:
            mimetype = result.mimetype
            response.headers["Content-Type"] = (
                f"{mimetype}; charset={result.charset}" if mimetype.startswith("text/") else mimetype
            )
        return response
    if isinstance(result, str):
        return web.Response(status=200, text=result, content_type="text/plain", charset="utf-8")
    if isinstance(result, bytes | bytearray):
        return web.Response(status=200, body=bytes(result), content_type="application/octet-stream")
    hint = (
        " (wrap JSON as func.HttpResponse(json.dumps(value), mimetype=...))"
        if isinstance(result, dict | list)
        else ""
    )
    raise TypeError(
        f"function {function_name!r} returned {type(result).__name__}; an HTTP function must return "
        f"func.HttpResponse, str or bytes{hint}"
    )
