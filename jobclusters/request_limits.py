"""Size and shape limits of what callers send, the same on every path (HTTP API, Service Bus messages),
and the strict JSON reader both use. docs/api.md lists them; tests read them from here."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

MAX_BODY_BYTES = 1024 * 1024
MAX_JSON_DEPTH = 64
MAX_IDEMPOTENCY_KEY = 256
MAX_RUN_ID = 128
MAX_TASK_KEY = 256
MAX_QUERY_VALUE = 256
MAX_CONTINUATION = 2048

TEXT_FIELDS: dict[str, int] = {
    "idempotency_key": MAX_IDEMPOTENCY_KEY,
    "actor": 256,
    "reason": 1024,
    "source": 32,
    "format": 64,
    "base_dir": 4096,
}
"""Top-level text fields of request bodies and messages, with their most characters."""


@dataclass(frozen=True)
class JsonInputError(ValueError):
    """A document this API refuses before reading it: `path` is the JSON path of the finding."""

    path: str
    message: str
    code: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class _NotANumber:
    """Where `NaN` / `Infinity` stood, so the walk below can name its path."""

    def __init__(self, text: str) -> None:
        self.text = text


def load_json(raw: bytes | str) -> Any:
    """`json.loads`, but `NaN`/`Infinity` (not JSON, and they become `null` downstream), nesting deeper
    than `MAX_JSON_DEPTH` and over-long top-level text fields are refused with the path named."""
    try:
        data = json.loads(raw, parse_constant=_NotANumber)
    except RecursionError:
        raise JsonInputError("$", f"nested deeper than {MAX_JSON_DEPTH} levels", "depth") from None
    _check(data)
    return data


def _check(data: Any) -> None:
    stack: list[tuple[Any, str, int]] = [(data, "$", 0)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, _NotANumber):
            raise JsonInputError(path, f"{value.text} is not a JSON number", "number")
        if isinstance(value, dict | list) and depth >= MAX_JSON_DEPTH:
            raise JsonInputError(path, f"nested deeper than {MAX_JSON_DEPTH} levels", "depth")
        if isinstance(value, dict):
            stack.extend((item, f"{path}.{key}", depth + 1) for key, item in value.items())
        elif isinstance(value, list):
            stack.extend((item, f"{path}[{i}]", depth + 1) for i, item in enumerate(value))
    if isinstance(data, dict):
        for name, most in TEXT_FIELDS.items():
            value = data.get(name)
            if isinstance(value, str) and len(value) > most:
                raise JsonInputError(f"$.{name}", f"longer than {most} characters", "too-long")
