"""JSON in and out for the HTTP API: every answer, errors included, is a JSON object.

Handlers return an `ApiResult`; `http_api` turns it into an `HttpResponse`. An error body is
`{"error": {"code", "message", "problems": [{"path", "message", "code"}]}}`; `problems` name the JSON
path of each finding in the submitted document.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from jobclusters.spec import Problem


@dataclass
class ApiResult:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    started_run: str | None = None  # a 202 that carries the durable status URLs of this instance


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, problems: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.problems = problems or []

    def result(self) -> ApiResult:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.problems:
            error["problems"] = self.problems
        return ApiResult(self.status, {"error": error})


def problem_list(problems: list[Problem]) -> list[dict[str, Any]]:
    return [{"path": p.path, "message": p.message, "code": p.code} for p in problems]


def json_body(raw: bytes, *, required: bool = True) -> dict[str, Any]:
    """The request body as a JSON object; an empty body is `{}` when not required."""
    if not raw or not raw.strip():
        if required:
            raise ApiError(400, "missing_body", "expected a JSON object in the request body")
        return {}
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        where = f" (line {exc.lineno} column {exc.colno})" if isinstance(exc, json.JSONDecodeError) else ""
        raise ApiError(
            400,
            "invalid_json",
            f"request body is not valid JSON{where}",
            [{"path": "$", "message": str(exc), "code": "json"}],
        ) from exc
    if not isinstance(data, dict):
        raise ApiError(
            400,
            "invalid_body",
            f"expected a JSON object, got {type(data).__name__}",
            [{"path": "$", "message": "expected an object", "code": "type"}],
        )
    return data


def field_of(body: dict[str, Any], name: str, kind: type | tuple[type, ...], default: Any = None) -> Any:
    """An optional field of the body with its expected type; a wrong type is a 400 naming `$.name`."""
    value = body.get(name, default)
    if value is None or isinstance(value, kind):
        return value
    kinds = (kind,) if isinstance(kind, type) else kind
    expected = " or ".join(_NAMES.get(k.__name__, k.__name__) for k in kinds)
    raise ApiError(
        400,
        "invalid_field",
        f"$.{name}: expected {expected}",
        [{"path": f"$.{name}", "message": f"expected {expected}", "code": "type"}],
    )


_NAMES = {
    "dict": "an object",
    "str": "a string",
    "list": "an array",
    "bool": "true or false",
    "int": "a number",
}
