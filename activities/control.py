"""Run control activities: concurrency slots and cancellation of everything a run started remotely."""

from __future__ import annotations

import contextlib
import logging

import azure.durable_functions as df

from jobclusters.execution.control_messages import CancelCheckInput
from jobclusters.execution.messages import CancelRunInput, SlotInput, SlotResult
from jobclusters.execution.registry import (
    CANCEL_REQUESTED,
    CLAIM_RUN_SLOT,
    RELEASE_RUN_SLOT,
    REQUEST_RUN_CANCEL,
    activity,
)
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
