"""Shared bits of the orchestrators: typed calls through the registry, input decoding, timestamps.
Deterministic only."""

from __future__ import annotations

import json
from collections.abc import Generator
from datetime import UTC, datetime
from typing import Any, TypeVar

import azure.durable_functions as df
from pydantic import BaseModel

from jobclusters.execution.registry import ActivitySpec, OrchestratorSpec

_M = TypeVar("_M", bound=BaseModel)
In = TypeVar("In", bound=BaseModel)
Out = TypeVar("Out")

#: failure messages carried into outcomes and run records are cut here
FAILURE_MESSAGE_LIMIT = 2000

#: Table/Blob writes are retried a few times before a run gives up on them
STORAGE_RETRY = df.RetryOptions(first_retry_interval_in_milliseconds=2000, max_number_of_attempts=4)


def call(context: Any, spec: ActivitySpec[In, Out], value: In) -> Any:
    """The task of one activity call; read its result with `spec.read`."""
    return context.call_activity(spec.name, spec.dump_input(value))


def call_store(context: Any, spec: ActivitySpec[In, Out], value: In) -> Any:
    """An activity that writes run state (tracking, slots, cancel markers), with retries."""
    return context.call_activity_with_retry(spec.name, STORAGE_RETRY, spec.dump_input(value))


def call_orchestrator(context: Any, spec: OrchestratorSpec[In, Out], value: In, instance_id: str) -> Any:
    return context.call_sub_orchestrator(spec.name, spec.dump_input(value), instance_id)


def result_of(
    context: Any, spec: ActivitySpec[In, Out], value: In, *, store: bool = False
) -> Generator[Any, Any, Out]:
    """`yield from` this: one activity call (`store`: retried like `call_store`), its result as the
    result model; a failure raises."""
    task = call_store(context, spec, value) if store else call(context, spec, value)
    return spec.read((yield task))


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


def failure_message(error: object, limit: int = FAILURE_MESSAGE_LIMIT) -> str:
    """A sub-orchestration or activity failure as a short message (the SDK wraps the reason)."""
    text = str(error)
    return text[:limit]
