"""The HTTP API as an OpenAPI 3.1 document, served at `GET /api/openapi.json`.

Written by hand next to the routes it describes; `tests/unit/triggers/test_openapi.py` keeps it true (every
route the app registers is here and nothing else), and the e2e fuzz test generates requests from it.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from jobclusters.request_limits import (
    MAX_CONTINUATION,
    MAX_IDEMPOTENCY_KEY,
    MAX_QUERY_VALUE,
    MAX_RUN_ID,
    MAX_TASK_KEY,
    TEXT_FIELDS,
)

ROUTE_PREFIX = "/api"

_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "problems": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "path": {"type": "string"},
                            "message": {"type": "string"},
                            "code": {"type": "string"},
                        },
                    },
                },
            },
        }
    },
}
_OBJECT: dict[str, Any] = {"type": "object"}
_LINKS = {
    "type": "object",
    "required": ["id", "statusQueryGetUri", "cancelPostUri", "repairPostUri"],
    "properties": {
        "id": {"type": "string"},
        "statusQueryGetUri": {"type": "string"},
        "cancelPostUri": {"type": "string"},
        "repairPostUri": {"type": "string"},
    },
    "additionalProperties": False,
}
_STARTED = {
    "type": "object",
    "required": ["run_id", "job_id", "started", "status_urls"],
    "properties": {
        "run_id": {"type": "string"},
        "job_id": {"type": "string"},
        "started": {"type": "boolean"},
        "existing_status": {"type": ["string", "null"]},
        "status_urls": _LINKS,
    },
}


def _text(name: str) -> dict[str, Any]:
    return {"type": "string", "maxLength": TEXT_FIELDS[name]}


_RUN_OPTIONS = {
    "type": "object",
    "properties": {
        "parameters": {"type": "object"},
        "idempotency_key": {"type": "string", "minLength": 1, "maxLength": MAX_IDEMPOTENCY_KEY},
        "actor": _text("actor"),
        "source": _text("source"),
    },
}
_INLINE_RUN = {
    "type": "object",
    "required": ["definition"],
    "properties": {
        **_RUN_OPTIONS["properties"],  # type: ignore[dict-item]
        "definition": {"type": "object", "description": "a job definition in any format the loader reads"},
        "job_id": {"type": "string"},
        "format": _text("format"),
        "base_dir": _text("base_dir"),
        "strict": {"type": "boolean"},
    },
}
_REGISTER = {
    "type": "object",
    "description": "a job definition, or {definition, job_id, format, base_dir, strict}",
}
_CANCEL = {"type": "object", "properties": {"reason": _text("reason"), "actor": _text("actor")}}
_REPAIR = {
    "type": "object",
    "properties": {
        "tasks": {"type": "array", "items": {"type": "string"}},
        "rerun_dependents": {"type": "boolean"},
        "actor": _text("actor"),
    },
}

_FIRE_TIMES = {
    "type": "array",
    "items": {"type": "string", "format": "date-time"},
    "description": "next fire times of the schedule (UTC, at most 5); none without a schedule or paused",
}
_JOB = {
    "type": "object",
    "required": ["job_id", "next_fire_times"],
    "properties": {"next_fire_times": _FIRE_TIMES},
}
_JOBS = {"type": "object", "required": ["jobs"], "properties": {"jobs": {"type": "array", "items": _JOB}}}

_JOB_ID = {
    "name": "job_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"},
}
_RUN_ID = {
    "name": "run_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "maxLength": MAX_RUN_ID},
}
_TASK_KEY = {
    "name": "task_key",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "maxLength": MAX_TASK_KEY},
}


def _query(name: str, description: str, most: int = MAX_QUERY_VALUE) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": {"type": "string", "maxLength": most},
    }


def _answers(ok: int, ok_schema: dict[str, Any], *errors: int) -> dict[str, Any]:
    answers: dict[str, Any] = {
        str(ok): {"description": "success", "content": {"application/json": {"schema": ok_schema}}}
    }
    for status in (400, 401, *errors):
        answers[str(status)] = {
            "description": "error",
            "content": {"application/json": {"schema": _ERROR}},
        }
    return answers


def _body(schema: dict[str, Any], required: bool) -> dict[str, Any]:
    return {"required": required, "content": {"application/json": {"schema": schema}}}


@cache
def document() -> dict[str, Any]:
    paths: dict[str, Any] = {
        "/jobs": {
            "get": {"operationId": "api_list_jobs", "responses": _answers(200, _JOBS)},
            "post": {
                "operationId": "api_register_job",
                "requestBody": _body(_REGISTER, True),
                "responses": _answers(201, _OBJECT, 413),
            },
        },
        "/jobs/{job_id}": {
            "parameters": [_JOB_ID],
            "get": {"operationId": "api_get_job", "responses": _answers(200, _JOB, 404)},
            "delete": {"operationId": "api_delete_job", "responses": _answers(200, _OBJECT, 404)},
        },
        "/jobs/{job_id}/runs": {
            "parameters": [_JOB_ID],
            "post": {
                "operationId": "api_run_job",
                "requestBody": _body(_RUN_OPTIONS, False),
                "responses": _answers(202, _STARTED, 404, 413),
            },
        },
        "/runs": {
            "get": {
                "operationId": "api_list_runs",
                "parameters": [
                    _query("job", "a job id"),
                    _query("status", "comma-separated run states"),
                    _query("from", "ISO 8601 creation time"),
                    _query("to", "ISO 8601 creation time"),
                    _query("limit", "1-200"),
                    _query("continuation", "the token of the previous page", MAX_CONTINUATION),
                ],
                "responses": _answers(200, _OBJECT, 503),
            },
            "post": {
                "operationId": "api_run_inline",
                "requestBody": _body(_INLINE_RUN, True),
                "responses": _answers(202, _STARTED, 413),
            },
        },
        "/runs/{run_id}": {
            "parameters": [_RUN_ID],
            "get": {"operationId": "api_get_run", "responses": _answers(200, _OBJECT, 404)},
        },
        "/runs/{run_id}/cancel": {
            "parameters": [_RUN_ID],
            "post": {
                "operationId": "api_cancel_run",
                "requestBody": _body(_CANCEL, False),
                "responses": _answers(202, _OBJECT, 404, 409, 413),
            },
        },
        "/runs/{run_id}/repair": {
            "parameters": [_RUN_ID],
            "post": {
                "operationId": "api_repair_run",
                "requestBody": _body(_REPAIR, False),
                "responses": _answers(202, _STARTED, 404, 409, 413),
            },
        },
        "/runs/{run_id}/tasks/{task_key}/logs": {
            "parameters": [_RUN_ID, _TASK_KEY],
            "get": {"operationId": "api_task_logs", "responses": _answers(200, _OBJECT, 404)},
        },
        "/ui": {
            "get": {
                "operationId": "ui_root",
                "security": [],
                "responses": {"302": {"description": "to /api/ui/"}, "200": {"description": "the page"}},
            }
        },
        "/ui/{*path}": {
            "parameters": [{"name": "*path", "in": "path", "required": True, "schema": {"type": "string"}}],
            "get": {
                "operationId": "ui_assets",
                "description": "the run monitor's static files (no data; docs/monitor.md)",
                "security": [],
                "responses": {"200": {"description": "a file"}, "404": {"description": "no such file"}},
            },
        },
        "/ui-api/validate": {
            "post": {
                "operationId": "ui_validate",
                "description": "checks a definition like POST /jobs and stores nothing",
                "requestBody": _body(_REGISTER, True),
                "responses": _answers(200, _OBJECT),
            }
        },
        "/openapi.json": {
            "get": {
                "operationId": "api_openapi",
                "security": [],
                "responses": {"200": {"description": "this document"}},
            }
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "jobclusters", "version": "1", "description": "see docs/api.md"},
        "servers": [{"url": ROUTE_PREFIX}],
        "security": [{"functionKey": []}, {"functionKeyQuery": []}],
        "components": {
            "securitySchemes": {
                "functionKey": {"type": "apiKey", "in": "header", "name": "x-functions-key"},
                "functionKeyQuery": {"type": "apiKey", "in": "query", "name": "code"},
            },
            "schemas": {"Error": _ERROR},
        },
        "paths": paths,
    }


def _pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]+\})", ROUTE_PREFIX + template)
    regex = "".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts)
    return re.compile(regex, re.IGNORECASE)


def methods_of(path: str) -> list[str]:
    """The methods the API serves on `path` (empty: no such route), for a 405 with `Allow`."""
    for template, item in document()["paths"].items():
        if _pattern(template).fullmatch(path.rstrip("/") or "/"):
            return sorted(m.upper() for m in item if m != "parameters")
    return []
