"""Remove secrets before anything is written: secure inputs/outputs and values that look like secrets."""

from __future__ import annotations

import re
from typing import Any

REDACTED = "***redacted***"
_SECRET_NAME = re.compile(
    r"(pass(word|wd)?|secret|token|credential|api[_-]?key|account[_-]?key|"
    r"connection[_-]?string|sas|private[_-]?key|^key$|_key$)",
    re.IGNORECASE,
)
_SECRET_VALUE = re.compile(
    r"(AccountKey=|SharedAccessKey=|[?&]sig=|Bearer\s+[A-Za-z0-9._-]{10,}|"
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----|dapi[0-9a-f]{32})",
    re.IGNORECASE,
)


def looks_secret(name: str) -> bool:
    return bool(_SECRET_NAME.search(name))


def redact(value: Any, *, secure: bool = False) -> Any:
    """A copy with secret-looking values (by key name or content) replaced; everything if `secure`."""
    if secure:
        if isinstance(value, dict):
            return {k: REDACTED for k in value}
        return REDACTED if value is not None else None
    if isinstance(value, dict):
        return {
            k: REDACTED if isinstance(k, str) and looks_secret(k) and v is not None else redact(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [redact(v) for v in value]
    if isinstance(value, str) and _SECRET_VALUE.search(value):
        return REDACTED
    return value
