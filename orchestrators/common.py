"""Shared bits of the orchestrators: typed calls through the registry, input decoding, timestamps.
Deterministic only.

Every activity call that returns a result goes through `result_of`, which waits out an outage of the
app's infrastructure (storage, tracking, a control plane) with the one `InfraRetryPolicy`: backoff on
durable timers, for a bounded time, then `InfrastructureUnavailable`, so a run fails for the user's work
or for an outage longer than the bound, and says which.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Generator
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, TypeVar

import azure.durable_functions as df
from pydantic import BaseModel

from jobclusters.execution.control_messages import CancelForwardInput
from jobclusters.execution.public_errors import public_message
from jobclusters.execution.registry import FORWARD_CANCEL, ActivitySpec, OrchestratorSpec
from jobclusters.execution.retry import InfrastructureUnavailable, infra_retry_policy, outage_worth_waiting

_M = TypeVar("_M", bound=BaseModel)
In = TypeVar("In", bound=BaseModel)
Out = TypeVar("Out")

#: failure messages carried into outcomes and run records are cut here
FAILURE_MESSAGE_LIMIT = 2000

log = logging.getLogger("jobclusters.orchestrators")

#: fixed interval of the writes retried by the Durable extension itself (`call_store`)
_STORE_INTERVAL_SECONDS = 5.0


@lru_cache(maxsize=1)
def storage_retry() -> df.RetryOptions:
    """Durable's retry for run-state writes, covering the infrastructure policy's bound (one object, as
    the settings are read once per process)."""
    attempts = infra_retry_policy().fixed_attempts(_STORE_INTERVAL_SECONDS)
    return df.RetryOptions(int(_STORE_INTERVAL_SECONDS * 1000), attempts)


def call(context: Any, spec: ActivitySpec[In, Out], value: In) -> Any:
    """The task of one activity call; read its result with `spec.read`."""
    return context.call_activity(spec.name, spec.dump_input(value))


def call_store(context: Any, spec: ActivitySpec[In, Out], value: In) -> Any:
    """An activity that writes run state (tracking, slots, cancel markers), retried for the infrastructure
    policy's bound (a task, so it can join `task_all`)."""
    return context.call_activity_with_retry(spec.name, storage_retry(), spec.dump_input(value))


def call_orchestrator(context: Any, spec: OrchestratorSpec[In, Out], value: In, instance_id: str) -> Any:
    return context.call_sub_orchestrator(spec.name, spec.dump_input(value), instance_id)


def result_of(
    context: Any, spec: ActivitySpec[In, Out], value: In, *, store: bool = False
) -> Generator[Any, Any, Out]:
    """`yield from` this: one activity call, its result as the result model. A failure is retried with
    backoff while it lasts less than the infrastructure policy's bound (a permanent one, such as a missing
    setting, is not); then it raises `InfrastructureUnavailable`. `store`: a run-state write, retried by
    the Durable extension itself (`call_store`) for the same bound."""
    policy = infra_retry_policy()
    if store:
        try:
            written = yield call_store(context, spec, value)
        except Exception as exc:
            reason = failure_message(exc, 300)
            raise InfrastructureUnavailable(spec.name, policy.bound_seconds, reason) from exc
        return spec.read(written)
    first_failure: datetime | None = None
    failures = 0
    while True:
        try:
            raw = yield call(context, spec, value)
        except Exception as exc:
            if not outage_worth_waiting(str(exc)):
                raise
            now = context.current_utc_datetime
            first_failure = first_failure or now
            failures += 1
            failing_for = (now - first_failure).total_seconds()
            if not getattr(context, "is_replaying", False):
                log.warning("%s failed (%d in a row), retried: %s", spec.name, failures, exc)
            if policy.gives_up(failing_for, failures):
                raise InfrastructureUnavailable(spec.name, failing_for, failure_message(exc, 300)) from exc
            yield context.create_timer(now + timedelta(seconds=policy.delay_seconds(failures)))
            continue
        return spec.read(raw)


def pass_cancel_on(context: Any, instance_ids: list[str], data: Any) -> Generator[Any, Any, None]:
    """`yield from` this when a loop stops at a cancel: its running children (for_each chunks, ADF blocks,
    an Until's pass) get the cancel event too, down the tree, so a Wait in them ends now. Their Batch and
    cluster work sees the run's cancel marker anyway; if passing it on fails, the rest of a child still
    stops at that marker, only its Wait runs out first."""
    if not instance_ids:
        return
    try:
        yield call(context, FORWARD_CANCEL, CancelForwardInput(instance_ids=instance_ids, data=data))
    except Exception as exc:
        if not getattr(context, "is_replaying", False):
            log.warning("the cancel was not passed on to %s: %s", instance_ids, failure_message(exc, 300))


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
    """A sub-orchestration or activity failure as a short message: the SDK appends the traceback to the
    reason, which only the log keeps (`public_message`)."""
    return (public_message(str(error)) or "")[:limit]
