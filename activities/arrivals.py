"""The dispatcher's view of a job's blob arrivals: what is pending per rule, and claiming it for a run."""

from __future__ import annotations

import asyncio

import azure.durable_functions as df

from jobclusters.arrivals.models import (
    ClaimInput,
    ClaimResult,
    PendingGroup,
    PendingInput,
    PendingResult,
    SignedRunRequest,
)
from jobclusters.arrivals.requests import run_requests
from jobclusters.execution.registry import CLAIM_ARRIVALS, PENDING_ARRIVALS, activity
from jobclusters.run_admission import sign
from jobclusters.run_signing_key import run_signing_key
from jobclusters.services import factory
from jobclusters.spec.model import FileArrivalTrigger
from jobclusters.tracking.definitions import JobDefinition

bp = df.Blueprint()


def _definition(job_id: str) -> JobDefinition | None:
    return asyncio.run(factory.get_job_definitions().get(job_id))


@activity(bp, PENDING_ARRIVALS)
def pending_arrivals(inp: PendingInput) -> PendingResult:
    definition = _definition(inp.job_id)
    if definition is None:
        return PendingResult(registered=False)
    job = definition.job
    groups: dict[int, PendingGroup] = {}
    for arrival in factory.get_arrivals().pending(inp.job_id):
        group = groups.get(arrival.rule)
        if group is None:
            rule = job.triggers[arrival.rule] if arrival.rule < len(job.triggers) else None
            waits = rule if isinstance(rule, FileArrivalTrigger) else FileArrivalTrigger(url="")
            group = groups[arrival.rule] = PendingGroup(
                rule=arrival.rule,
                kind=arrival.kind,
                count=0,
                first_arrival=arrival.arrived_at,
                last_arrival=arrival.arrived_at,
                min_time_between_triggers_seconds=waits.min_time_between_triggers_seconds,
                wait_after_last_change_seconds=waits.wait_after_last_change_seconds,
            )
        group.count += 1
        group.last_arrival = max(group.last_arrival, arrival.arrived_at)
    return PendingResult(
        registered=True,
        max_concurrent_runs=job.max_concurrent_runs,
        groups=list(groups.values()),
    )


@activity(bp, CLAIM_ARRIVALS)
def claim_arrivals(inp: ClaimInput) -> ClaimResult:
    definition = _definition(inp.job_id)
    if definition is None:
        return ClaimResult()
    claimed = factory.get_arrivals().claim(inp.job_id, inp.rule, inp.token, inp.limit)
    key = run_signing_key(factory.settings())
    requests = run_requests(inp.job_id, definition.job, claimed, base_dir=definition.base_dir)
    return ClaimResult(runs=[SignedRunRequest(request=r, signature=sign(r, key)) for r in requests])
