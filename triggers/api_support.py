"""JSON in and out for the HTTP API: every answer, errors included, is a JSON object.

Handlers return an `ApiResult`; `http_api` turns it into an `HttpResponse`. An error body is
`{"error": {"code", "message", "problems": [{"path", "message", "code"}]}}`; `problems` name the JSON
path of each finding in the submitted document.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from jobclusters.request_limits import (
    MAX_BODY_BYTES,
    MAX_CONTINUATION,
    MAX_QUERY_VALUE,
    MAX_RUN_ID,
    MAX_TASK_KEY,
    JsonInputError,
    load_json,
)
from jobclusters.spec import Problem
from jobclusters.tracking.definitions import job_id_problem


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
    if len(raw) > MAX_BODY_BYTES:
        raise ApiError(
            413,
            "body_too_large",
            f"the request body is larger than {MAX_BODY_BYTES} bytes",
            [{"path": "$", "message": f"at most {MAX_BODY_BYTES} bytes", "code": "too-large"}],
        )
    try:
        data = load_json(raw)
    except JsonInputError as exc:
        raise ApiError(
            400, "invalid_field", str(exc), [{"path": exc.path, "message": exc.message, "code": exc.code}]
        ) from exc
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


def _bad_route_value(name: str, code: str, message: str) -> ApiError:
    return ApiError(
        400, code, f"{name}: {message}", [{"path": f"path.{name}", "message": message, "code": code}]
    )


def bad_query_value(name: str, code: str, message: str) -> ApiError:
    """The 400 for one query parameter: `invalid_query`, the problem at `query.<name>` with `code`."""
    problem = {"path": f"query.{name}", "message": message, "code": code}
    return ApiError(400, "invalid_query", f"{name}: {message}", [problem])


_RUN_ID = re.compile(rf"[A-Za-z0-9][A-Za-z0-9_.:-]{{0,{MAX_RUN_ID - 1}}}")


def checked_job_id(value: str) -> str:
    problem = job_id_problem(value)
    if problem:
        raise _bad_route_value("job_id", "invalid_job_id", problem)
    return value


def checked_run_id(value: str) -> str:
    if not _RUN_ID.fullmatch(value):
        message = f"expected 1-{MAX_RUN_ID} letters, digits, '_', '.', ':' or '-' (a run id is run-<hex>)"
        raise _bad_route_value("run_id", "invalid_run_id", message)
    return value


def checked_task_key(value: str) -> str:
    if not value or len(value) > MAX_TASK_KEY or any(ord(c) < 32 for c in value) or "/" in value:
        message = f"expected 1-{MAX_TASK_KEY} characters, no '/' or control characters"
        raise _bad_route_value("task_key", "invalid_task_key", message)
    return value


def checked_query(query: Mapping[str, str]) -> dict[str, str]:
    """Every query value within its size limit (the continuation token may be longer than the others)."""
    for name, value in query.items():
        most = MAX_CONTINUATION if name == "continuation" else MAX_QUERY_VALUE
        if len(value) > most:
            raise bad_query_value(name, "too-long", f"longer than {most} characters")
    job = query.get("job") or query.get("job_id")
    if job and (problem := job_id_problem(job)):
        raise bad_query_value("job" if query.get("job") else "job_id", "job-id", problem)
    return dict(query)
