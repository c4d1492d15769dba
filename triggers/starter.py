"""Start `run_job` for a `RunRequest`, once: the run id is the instance id, and an instance that already
exists (in any state) is left alone, so an event delivered twice starts one run.

Only the two durable-client calls used here are required, so tests can pass a client bound to a real
devhost or any object with the same coroutine methods.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Protocol

from jobclusters.cost.policy_source import cost_window_start, with_cost_policy
from jobclusters.run_admission import signed_input
from jobclusters.run_request import RUN_JOB_ORCHESTRATOR, RunRequest, TriggerInfo, derive_run_id
from jobclusters.run_signing_key import run_signing_key
from jobclusters.settings import get_settings
from jobclusters.spec import Job


class StatusLike(Protocol):
    @property
    def runtime_status(self) -> Any: ...


class DurableStarterClient(Protocol):
    async def get_status(
        self,
        instance_id: str,
        show_history: bool = ...,
        show_history_output: bool = ...,
        show_input: bool = ...,
    ) -> Any: ...

    async def start_new(
        self,
        orchestration_function_name: str,
        instance_id: str | None = ...,
        client_input: Any = ...,
        version: str | None = ...,
    ) -> str: ...


@dataclass(frozen=True)
class StartOutcome:
    run_id: str
    started: bool
    existing_status: str | None = None


def status_name(status: Any) -> str | None:
    """The instance's runtime status as text, or None when the instance does not exist."""
    if status is None:
        return None
    runtime = getattr(status, "runtime_status", None)
    if runtime is None:
        return None
    return str(getattr(runtime, "value", runtime))


async def start_run(
    client: DurableStarterClient, request: RunRequest, *, key: bytes | None = None
) -> StartOutcome:
    """The input is signed (`jobclusters.run_admission`): `run_job` refuses requests no trigger made.

    Two starts of one run id can race past the existence check; the loser's `start_new` fails or finds
    the instance, and it answers "exists" like a late duplicate instead of failing.
    """
    existing = status_name(await client.get_status(request.run_id))
    if existing is not None:
        return StartOutcome(request.run_id, started=False, existing_status=existing)
    payload = signed_input(request, key if key is not None else run_signing_key(get_settings()))
    try:
        await client.start_new(RUN_JOB_ORCHESTRATOR, instance_id=request.run_id, client_input=payload)
    except Exception:
        existing = status_name(await client.get_status(request.run_id))
        if existing is None:
            raise
        return StartOutcome(request.run_id, started=False, existing_status=existing)
    return StartOutcome(request.run_id, started=True)


def new_run_request(
    *,
    job_id: str,
    job: Job,
    trigger: TriggerInfo,
    identity: tuple[str, ...] | None,
    parameters: dict[str, Any] | None = None,
    base_dir: str | None = None,
) -> RunRequest:
    """`identity` names the event (blob URL + ETag, idempotency key, fire time); None means a fresh run."""
    parts = identity if identity is not None else (trigger.kind, uuid.uuid4().hex)
    return RunRequest(
        run_id=derive_run_id(job_id, *parts),
        job_id=job_id,
        job=with_cost_policy(job),
        not_before=cost_window_start(job),
        parameters=dict(parameters or {}),
        trigger=trigger,
        base_dir=base_dir,
    )
