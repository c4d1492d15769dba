"""What one arrived blob does: start every registered job whose storage-event or file-arrival rule matches
it, once per upload.

The run id is `derive_run_id(job_id, blob URL, ETag)`, and a receipt for it in the storage account
(`jobclusters.tracking.blob_receipts`) is claimed before starting: the same upload seen twice (a
redelivered event, a second host, a host with a fresh state folder) finds the receipt and starts nothing;
a new upload of the same name has a new ETag and starts a new run. The blob's path and name become run
parameters, and the blob is the run's trigger file for a fan-out over `trigger_files`.

`start_runs_for` is the per-event handler behind the Event Grid function (`triggers.eventgrid`); the
polling blob trigger on `incoming` is gone, since one Event Grid subscription serves every container.
"""

from __future__ import annotations

import logging
from typing import Any

from jobclusters.run_request import RunRequest, TriggerInfo
from jobclusters.tracking.blob_receipts import BlobReceipts
from jobclusters.tracking.definitions import JobDefinitionStore
from triggers.blob_rules import ArrivedBlob, matching_rule
from triggers.starter import StartOutcome, new_run_request, start_run

log = logging.getLogger("jobclusters.triggers.blob")


class RunBeingStarted(RuntimeError):
    """Another host holds a fresh claim on this upload's run: retry the event later."""


def blob_run_request(job_id: str, definition: Any, rule: int, arrived: ArrivedBlob) -> RunRequest:
    detail = {
        "url": arrived.url,
        "etag": arrived.etag,
        "container": arrived.container,
        "name": arrived.name,
        "size": arrived.size,
        "rule": rule,
        "files": [arrived.path],
    }
    return new_run_request(
        job_id=job_id,
        job=definition.job,
        trigger=TriggerInfo(kind="blob", detail=detail),
        identity=(arrived.url, arrived.etag),
        parameters=arrived.run_parameters(),
        base_dir=definition.base_dir,
    )


async def start_once(
    client: Any, receipts: BlobReceipts, request: RunRequest, arrived: ArrivedBlob
) -> StartOutcome:
    """Start the run unless the upload's receipt says it was started (by this host or any other)."""
    claim = await receipts.claim(request.job_id, request.run_id, arrived)
    if claim.outcome == "started":
        return StartOutcome(request.run_id, started=False, existing_status=f"receipt of {claim.owner}")
    if claim.outcome == "busy":
        raise RunBeingStarted(f"run {request.run_id} is being started by {claim.owner}")
    try:
        outcome = await start_run(client, request)
    except BaseException:
        await receipts.release(request.job_id, request.run_id)
        raise
    await receipts.mark_started(request.job_id, request.run_id)
    return outcome


async def start_runs_for(
    arrived: ArrivedBlob, store: JobDefinitionStore, client: Any, receipts: BlobReceipts
) -> list[tuple[str, StartOutcome]]:
    """Start the matching jobs; returns (job id, outcome) per matching job. A failure for one job does not
    keep the others from starting; it is raised at the end so the event is delivered again (the jobs that
    did start hold receipts and are not started again)."""
    outcomes: list[tuple[str, StartOutcome]] = []
    failures: list[str] = []
    for summary in await store.list():
        rule = matching_rule(summary.triggers, arrived)
        if rule is None:
            continue
        try:
            definition = await store.get(summary.job_id)
        except (ValueError, KeyError, TypeError):
            # Unreadable for good: this job fails on its own (logged); a redelivery would not help it.
            log.exception("blob %s: the definition of job %s cannot be read", arrived.path, summary.job_id)
            continue
        if definition is None:
            continue  # deleted since the listing
        request = blob_run_request(summary.job_id, definition, rule, arrived)
        try:
            outcome = await start_once(client, receipts, request, arrived)
        except Exception as exc:
            failures.append(f"{summary.job_id}: {type(exc).__name__}: {exc}")
            continue
        outcomes.append((summary.job_id, outcome))
        if outcome.started:
            log.info("blob %s started run %s of job %s", arrived.path, outcome.run_id, summary.job_id)
        else:
            log.info(
                "blob %s: run %s of job %s exists already (%s)",
                arrived.path,
                outcome.run_id,
                summary.job_id,
                outcome.existing_status,
            )
    if failures:
        raise RuntimeError("could not start: " + "; ".join(failures))
    return outcomes
