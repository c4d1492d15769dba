"""Shared bits of the orchestrators: input decoding and timestamps. Deterministic only."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, TypeVar

import azure.durable_functions as df
from pydantic import BaseModel

_M = TypeVar("_M", bound=BaseModel)


def decode_input(context: Any, model: type[_M]) -> _M:
    """The input as `model`; the client may hand over a JSON text once more encoded."""
    raw = context.get_input()
    if isinstance(raw, str):
        raw = json.loads(raw)
    return model.model_validate(raw)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def parse_iso(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json")


def failure_message(error: object, limit: int = 2000) -> str:
    """A sub-orchestration or activity failure as a short message (the SDK wraps the reason)."""
    text = str(error)
    return text[:limit]


#: Table/Blob writes are retried a few times before a run gives up on them
STORAGE_RETRY = df.RetryOptions(first_retry_interval_in_milliseconds=2000, max_number_of_attempts=4)


def call_store(context: Any, name: str, payload: Any) -> Any:
    """An activity that writes run state (tracking, slots, cancel markers), with retries."""
    return context.call_activity_with_retry(name, STORAGE_RETRY, payload)
