"""What one arrived blob does: record it for every registered job whose storage-event or file-arrival rule
matches, and nudge that job's dispatcher (`orchestrators.arrivals`), which starts the runs.

Recording is idempotent per (job, blob URL, ETag) in the storage account (`jobclusters.arrivals.store`):
the same upload seen twice (a redelivered event, a second host, a host with a fresh state folder) adds
nothing; a new upload of the same name has a new ETag and is a new arrival. Nothing here decides when a
run starts or how many: an ADF storage-event rule gives each blob its own run (queued beyond the job's
`max_concurrent_runs`), a Databricks file-arrival rule hands all the files pending since its last run to
the next one; no arrival is ever dropped by a SKIPPED run.

`start_runs_for` is the per-event handler behind the Event Grid function (`triggers.eventgrid`).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from jobclusters.arrivals.models import ARRIVAL_EVENT, DISPATCHER, DispatchState, dispatcher_instance_id
from jobclusters.arrivals.store import TableArrivals
from jobclusters.tracking.definitions import JobDefinitionStore
from triggers.blob_rules import ArrivedBlob, matching_rule
from triggers.starter import status_name

log = logging.getLogger("jobclusters.triggers.blob")

RUNNING = {"Running", "Pending", "ContinuedAsNew"}


async def nudge_dispatcher(client: Any, job_id: str) -> None:
    """Wake the job's dispatcher, starting it when it is absent or ended."""
    instance_id = dispatcher_instance_id(job_id)
    if status_name(await client.get_status(instance_id)) not in RUNNING:
        try:
            await client.start_new(
                DISPATCHER,
                instance_id=instance_id,
                client_input=DispatchState(job_id=job_id).model_dump(mode="json"),
            )
            return
        except Exception as exc:  # started by a concurrent event a moment ago: nudge that one
            log.info("dispatcher %s: start raced (%s); raising the event instead", instance_id, exc)
    await client.raise_event(instance_id, ARRIVAL_EVENT, None)


async def start_runs_for(
    arrived: ArrivedBlob, store: JobDefinitionStore, client: Any, arrivals: TableArrivals
) -> list[tuple[str, bool]]:
    """Record the blob for each matching job and nudge its dispatcher; returns (job id, newly recorded).
    A failure for one job does not keep the others from recording; it is raised at the end so the event
    is delivered again (what was recorded is not recorded twice)."""
    recorded: list[tuple[str, bool]] = []
    failures: list[str] = []
    for summary in await store.list():
        rule = matching_rule(summary.triggers, arrived)
        if rule is None:
            continue
        kind = summary.triggers[rule].kind
        try:
            new = await asyncio.to_thread(
                arrivals.record,
                summary.job_id,
                rule,
                kind,
                url=arrived.url,
                etag=arrived.etag,
                container=arrived.container,
                name=arrived.name,
                size=arrived.size,
            )
            await nudge_dispatcher(client, summary.job_id)
        except Exception as exc:
            failures.append(f"{summary.job_id}: {type(exc).__name__}: {exc}")
            continue
        recorded.append((summary.job_id, new))
        log.info(
            "blob %s: arrival for job %s %s (%s rule %d)",
            arrived.path,
            summary.job_id,
            "recorded" if new else "exists already, nothing added",
            kind,
            rule,
        )
    if failures:
        raise RuntimeError("could not record: " + "; ".join(failures))
    return recorded
