"""CORS as Core Tools configures it locally: `Host.CORS` and `Host.CORSCredentials` in local.settings.json."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

_PREFLIGHT_MAX_AGE = "600"


@dataclass(frozen=True)
class CorsPolicy:
    origins: frozenset[str]  # lower-case origins, or {"*"}
    allow_credentials: bool = False

    @classmethod
    def from_host_section(cls, host: Mapping[str, Any]) -> CorsPolicy | None:
        raw = host.get("CORS")
        if raw is None or raw == "":
            return None
        if not isinstance(raw, str):
            raise ValueError(
                f"local.settings.json $.Host.CORS: expected a comma-separated string, got {raw!r}"
            )
        origins = frozenset(o.strip().rstrip("/").lower() for o in raw.split(",") if o.strip())
        credentials = host.get("CORSCredentials", False)
        if not isinstance(credentials, bool):
            raise ValueError(
                f"local.settings.json $.Host.CORSCredentials: expected true or false, got {credentials!r}"
            )
        return cls(origins, credentials)

    def allows(self, origin: str) -> bool:
        return "*" in self.origins or origin.rstrip("/").lower() in self.origins

    def is_preflight(self, request: web.Request) -> bool:
        return (
            request.method == "OPTIONS"
            and "Origin" in request.headers
            and "Access-Control-Request-Method" in request.headers
        )

    def preflight(self, request: web.Request) -> web.Response:
        origin = request.headers["Origin"]
        if not self.allows(origin):
            return web.Response(status=204)
        response = web.Response(status=204)
        self.decorate(request, response)
        response.headers["Access-Control-Allow-Methods"] = request.headers["Access-Control-Request-Method"]
        requested = request.headers.get("Access-Control-Request-Headers")
        if requested:
            response.headers["Access-Control-Allow-Headers"] = requested
        response.headers["Access-Control-Max-Age"] = _PREFLIGHT_MAX_AGE
        return response

    def decorate(self, request: web.Request, response: web.StreamResponse) -> None:
        origin = request.headers.get("Origin")
        if not origin or not self.allows(origin):
            return
        if "*" in self.origins and not self.allow_credentials:
            response.headers["Access-Control-Allow-Origin"] = "*"
        else:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers.add("Vary", "Origin")
        if self.allow_credentials:
            response.headers["Access-Control-Allow-Credentials"] = "true"


def read_host_section(app_dir: Path) -> dict[str, Any]:
    """`Host` of local.settings.json (`LocalHttpPort`, `CORS`, `CORSCredentials`); empty when absent."""
    path = app_dir / "local.settings.json"
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        return {}  # the app loader reports a malformed file
    host = data.get("Host") if isinstance(data, dict) else None
    if host is None:
        return {}
    if not isinstance(host, dict):
        raise ValueError(f"{path}: $.Host must be an object")
    return host
