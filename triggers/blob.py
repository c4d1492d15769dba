"""Blob trigger: a file landing in `incoming/` starts every registered job whose storage-event or
file-arrival rule matches it.

The run id is `derive_run_id(job_id, blob URL, ETag)`: the same upload seen twice (a redelivered event, a
host restart) finds its instance and starts nothing; a new upload of the same name has a new ETag and
starts a new run. The blob's path and name become run parameters, and the blob is the run's trigger file
for a fan-out over `trigger_files`.
"""

from __future__ import annotations

import logging
from typing import Any

import azure.durable_functions as df
import azure.functions as func
from azure.storage.blob.aio import BlobServiceClient

from jobclusters.run_request import TriggerInfo
from jobclusters.services import factory
from jobclusters.services.factory import trigger_services
from jobclusters.tracking.definitions import JobDefinitionStore
from triggers.blob_rules import ArrivedBlob, matching_rule
from triggers.starter import StartOutcome, new_run_request, start_run

INCOMING_CONTAINER = "incoming"

bp = df.Blueprint()
log = logging.getLogger("jobclusters.triggers.blob")


async def _etag_of(blob: func.InputStream) -> str:
    """The ETag the host passed with the trigger, else read from the blob (older workers drop it)."""
    props = getattr(blob, "blob_properties", None) or getattr(blob, "_blob_properties", None) or {}
    etag = props.get("ETag") or props.get("Etag") or props.get("etag")
    if etag:
        return str(etag).strip('"')
    container, _, name = (blob.name or "").partition("/")
    connection = factory.storage_connection()
    async with BlobServiceClient.from_connection_string(connection) as service:
        found = await service.get_blob_client(container, name).get_blob_properties()
    return str(found.etag).strip('"')


async def start_runs_for(
    arrived: ArrivedBlob, store: JobDefinitionStore, client: Any
) -> list[tuple[str, StartOutcome]]:
    """Start the matching jobs; returns (job id, outcome) per matching job. A failure for one job does not
    keep the others from starting; it is raised at the end so the host retries the blob (the jobs that
    did start are found on retry and not started again)."""
    outcomes: list[tuple[str, StartOutcome]] = []
    failures: list[str] = []
    for summary in await store.list():
        rule = matching_rule(summary.triggers, arrived)
        if rule is None:
            continue
        definition = await store.get(summary.job_id)
        if definition is None:
            continue  # deleted since the listing
        detail = {
            "url": arrived.url,
            "etag": arrived.etag,
            "container": arrived.container,
            "name": arrived.name,
            "size": arrived.size,
            "rule": rule,
            "files": [arrived.path],
        }
        request = new_run_request(
            job_id=summary.job_id,
            job=definition.job,
            trigger=TriggerInfo(kind="blob", detail=detail),
            identity=(arrived.url, arrived.etag),
            parameters=arrived.run_parameters(),
            base_dir=definition.base_dir,
        )
        try:
            outcome = await start_run(client, request)
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


@bp.blob_trigger(arg_name="blob", path=INCOMING_CONTAINER + "/{name}", connection="AzureWebJobsStorage")
@bp.durable_client_input(client_name="client")
async def start_runs_for_blob(blob: func.InputStream, client: df.DurableOrchestrationClient) -> None:
    arrived = ArrivedBlob.from_path(
        blob.name or "", size=int(blob.length or 0), url=blob.uri or "", etag=await _etag_of(blob)
    )
    started = await start_runs_for(arrived, trigger_services().definitions, client)
    if not started:
        log.info("blob %s matches no registered job", arrived.path)
