"""Event Grid trigger: blob events from the storage account's system topic start the matching jobs.

One subscription (event type `Microsoft.Storage.BlobCreated`, no subject filter) serves every container
and prefix, so a job rule may name any container; this is also the blob intake the Flex Consumption plan
requires. Locally devhost delivers the same events from Azurite (`eventgrid.config.json`). Delivery is at
least once; the arrival rows behind `start_runs_for` keep one record (so one run) per upload.
"""

from __future__ import annotations

import logging

import azure.durable_functions as df
import azure.functions as func

from jobclusters.services.factory import get_arrivals, trigger_services
from jobclusters.services.storage import is_app_container
from triggers.blob import start_runs_for
from triggers.blob_events import InvalidBlobEvent, arrived_blob

bp = df.Blueprint()
log = logging.getLogger("jobclusters.triggers.eventgrid")


@bp.event_grid_trigger(arg_name="event")
@bp.durable_client_input(client_name="client")
async def start_runs_for_blob_event(
    event: func.EventGridEvent, client: df.DurableOrchestrationClient
) -> None:
    try:
        arrived = arrived_blob(event.event_type, event.subject, event.get_json())
    except InvalidBlobEvent as exc:
        # Redelivery cannot fix a malformed event: say so once instead of failing it into retries.
        log.error("event %s (%s) is not a usable blob event and is dropped: %s", event.id, event.subject, exc)
        return
    if arrived is None:
        log.info("event %s: %s is not a blob creation; ignored", event.id, event.event_type)
        return
    services = trigger_services()
    if is_app_container(arrived.container, services.settings.table_prefix):
        log.debug("blob %s is one of the app's own writes; ignored", arrived.path)
        return
    started = await start_runs_for(arrived, services.definitions, client, get_arrivals())
    if not started:
        log.info("blob %s matches no registered job", arrived.path)
