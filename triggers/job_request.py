"""The Service Bus `job-requests` message: `{job, parameters, idempotency_key}`.

A message that can never succeed (not JSON, wrong shape, unknown job) is refused with a reason naming the
JSON path; the trigger dead-letters it rather than retrying.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from jobclusters.request_limits import MAX_IDEMPOTENCY_KEY, JsonInputError, load_json
from jobclusters.tracking.definitions import job_id_problem


class InvalidJobRequest(ValueError):
    """Raised for a message that no retry can fix; the message says why, with JSON paths."""


class JobRequestMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    job: str = Field(min_length=1, description="id of a registered job")
    parameters: dict[str, Any] = Field(default_factory=dict)
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=MAX_IDEMPOTENCY_KEY)


def _path(loc: tuple[int | str, ...]) -> str:
    path = "$"
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def parse_job_request(body: bytes | str) -> JobRequestMessage:
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    try:
        data = load_json(text)
    except JsonInputError as exc:
        raise InvalidJobRequest(str(exc)) from exc
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}"
        raise InvalidJobRequest(f"$: not valid JSON ({where}: {exc.msg})") from exc
    if not isinstance(data, dict):
        raise InvalidJobRequest(
            f"$: expected a JSON object {{job, parameters, idempotency_key}}, got {type(data).__name__}"
        )
    try:
        message = JobRequestMessage.model_validate(data)
    except ValidationError as exc:
        reasons = []
        for error in exc.errors(include_url=False):
            text = "unknown field" if error["type"] == "extra_forbidden" else error["msg"]
            reasons.append(f"{_path(tuple(error['loc']))}: {text}")
        raise InvalidJobRequest("; ".join(reasons)) from exc
    problem = job_id_problem(message.job)
    if problem:
        raise InvalidJobRequest(f"$.job: {problem}")
    return message
