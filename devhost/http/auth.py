"""Function and admin keys, checked the way Azure checks them (`code` query parameter or `x-functions-key`).

Keys come from settings (local.settings.json `Values` or the environment):
- `DEVHOST_FUNCTION_KEY`: accepted by `authLevel: function` routes (comma-separated for several keys).
- `DEVHOST_MASTER_KEY`: accepted everywhere (function, admin, the Durable webhooks).
- `DEVHOST_DURABLETASK_KEY`: the system key of the Durable webhooks, embedded in the status URLs that
  `create_check_status_response` returns. Optional: derived from the other keys when unset, so the master
  key itself never appears in a URL handed to a caller.

With no key configured nothing is enforced (what Core Tools does locally); anonymous routes are always open.
A refusal is a 401 with a small JSON body (Azure's is empty): callers of a JSON API can parse every answer.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass

from aiohttp import web

FUNCTION_KEY_SETTING = "DEVHOST_FUNCTION_KEY"
MASTER_KEY_SETTING = "DEVHOST_MASTER_KEY"
DURABLETASK_KEY_SETTING = "DEVHOST_DURABLETASK_KEY"
KEY_HEADER = "x-functions-key"
KEY_QUERY = "code"


class AuthLevel(enum.StrEnum):
    ANONYMOUS = "anonymous"
    FUNCTION = "function"
    ADMIN = "admin"
    SYSTEM = "system"

    @classmethod
    def parse(cls, value: object) -> AuthLevel:
        text = str(getattr(value, "value", value) or "function").lower()
        try:
            return cls(text)
        except ValueError as exc:
            raise ValueError(f"authLevel: expected one of anonymous, function, admin; got {text!r}") from exc


@dataclass(frozen=True)
class HostKeys:
    function_keys: tuple[str, ...] = ()
    master_key: str | None = None
    durabletask_key: str | None = None

    @classmethod
    def from_settings(cls, settings: Mapping[str, str]) -> HostKeys:
        function_keys = tuple(
            k.strip() for k in (settings.get(FUNCTION_KEY_SETTING) or "").split(",") if k.strip()
        )
        master = (settings.get(MASTER_KEY_SETTING) or "").strip() or None
        durable = (settings.get(DURABLETASK_KEY_SETTING) or "").strip() or None
        if durable is None and (master or function_keys):
            seed = master or function_keys[0]
            durable = hmac.new(seed.encode(), b"durabletask_extension", hashlib.sha256).hexdigest()[:40]
        return cls(function_keys, master, durable)

    @property
    def enforced(self) -> bool:
        return bool(self.function_keys or self.master_key)

    def secrets(self) -> tuple[str, ...]:
        """Every key value, for scrubbing from logs."""
        values = [*self.function_keys, self.master_key, self.durabletask_key]
        return tuple(v for v in values if v)

    def allows(self, level: AuthLevel, presented: str | None) -> bool:
        if level is AuthLevel.ANONYMOUS or not self.enforced:
            return True
        if not presented:
            return False
        accepted: list[str] = [self.master_key] if self.master_key else []
        if level is AuthLevel.FUNCTION:
            accepted += self.function_keys
        elif level is AuthLevel.SYSTEM and self.durabletask_key:
            accepted.append(self.durabletask_key)
        return any(hmac.compare_digest(presented.encode(), key.encode()) for key in accepted)


def presented_key(query: Mapping[str, str], headers: Mapping[str, str]) -> str | None:
    """The key a caller sent: the `code` query parameter wins over the header, as in Azure."""
    return query.get(KEY_QUERY) or headers.get(KEY_HEADER) or None


def unauthorized() -> web.Response:
    return web.json_response(
        {
            "error": {
                "code": "unauthorized",
                "message": f"a valid key is required ({KEY_HEADER} header or {KEY_QUERY}=)",
            }
        },
        status=401,
    )
