"""Run control activities: concurrency slots and cancellation of everything a run started remotely."""

from __future__ import annotations

import contextlib
import logging

import azure.durable_functions as df

from jobclusters.execution.control_messages import CancelCheckInput, CancelForwardInput
from jobclusters.execution.messages import CancelRunInput, SlotInput, SlotResult
from jobclusters.execution.registry import (
    CANCEL_REQUESTED,
    CLAIM_RUN_SLOT,
    FORWARD_CANCEL,
    RELEASE_RUN_SLOT,
    REQUEST_RUN_CANCEL,
    activity,
    activity_with_client,
)
from jobclusters.run_request import CANCEL_EVENT
from jobclusters.services import factory
from jobclusters.services.batch import BatchServiceError
from jobclusters.services.cluster import ClusterJobError, RunHandle

bp = df.Blueprint()
log = logging.getLogger(__name__)


@activity(bp, CLAIM_RUN_SLOT)
def claim_run_slot(inp: SlotInput) -> SlotResult:
    slot, holders = factory.get_control_store().claim_slot(inp.job_id, inp.run_id, inp.max_concurrent_runs)
    return SlotResult(claimed=slot is not None, slot=slot, holders=holders)


@activity(bp, RELEASE_RUN_SLOT)
def release_run_slot(inp: SlotInput) -> bool:
    return bool(factory.get_control_store().release_slot(inp.job_id, inp.run_id))


@activity(bp, REQUEST_RUN_CANCEL)
def request_run_cancel(inp: CancelRunInput) -> int:
    """Mark the run canceled, then cancel every remote run it registered; returns how many were asked."""
    control = factory.get_control_store()
    control.request_cancel(inp.run_id, inp.reason)
    asked = 0
    for attempt_id, kind, handle in control.handles(inp.run_id):
        try:
            if kind == "batch":
                factory.get_batch_service().terminate_job(str(handle["job_id"]))
            else:
                parsed = RunHandle.model_validate(handle)
                factory.get_cluster_service(parsed.backend).cancel(parsed)
            asked += 1
        except (BatchServiceError, ClusterJobError) as exc:
            log.warning("cancel of %s (%s) failed: %s", attempt_id, kind, exc)
        except KeyError:
            with contextlib.suppress(Exception):
                log.warning("cancel of %s: malformed handle", attempt_id)
    return asked


@activity(bp, CANCEL_REQUESTED)
def cancel_requested(inp: CancelCheckInput) -> str | None:
    """The run's cancel reason, read fresh, for a loop that decides between passes whether to go on."""
    return factory.get_control_store().cancel_requested(inp.control_id, fresh=True)


@activity_with_client(bp, FORWARD_CANCEL)
async def forward_cancel(inp: CancelForwardInput, binding: str | None) -> int:
    """Raise the cancel event on a loop's running children, so a durable timer in them (an ADF Wait) ends
    at the cancel instead of when it fires. A child that ended meanwhile refuses the event, which is fine:
    it has nothing left to stop. Returns how many took it."""
    if binding is None:
        raise RuntimeError("passing a cancel on needs the host's Durable client API, which it does not serve")
    client = df.DurableOrchestrationClient(binding)
    taken = 0
    for instance_id in inp.instance_ids:
        try:
            await client.raise_event(instance_id, CANCEL_EVENT, inp.data)
            taken += 1
        except Exception as exc:  # the SDK raises a bare Exception for an instance that is gone or ended
            log.info("cancel not passed on to %s: %s", instance_id, exc)
    return taken
