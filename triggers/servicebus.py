"""Service Bus trigger: queue `job-requests` carries `{job, parameters, idempotency_key}`.

An invalid message (not JSON, wrong shape, unknown job) can never succeed, so it must not be retried:
the function raises `InvalidJobRequest` and the queue is declared with `MaxDeliveryCount` 1
(`servicebus.config.json` locally, the same property on Azure), so the first failed delivery moves the
message to the dead-letter queue with the error as its description. Because of that, transient failures
(storage, the durable client) are retried here, inside the one delivery, before giving up.

The run id derives from the idempotency key (else the message id), so a redelivered or resent request
starts one run.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import azure.durable_functions as df
import azure.functions as func

from jobclusters.run_request import TriggerInfo, undeclared_parameters
from jobclusters.services.factory import trigger_services
from jobclusters.tracking.definitions import JobDefinitionStore
from triggers.job_request import InvalidJobRequest, parse_job_request
from triggers.starter import StartOutcome, new_run_request, start_run

QUEUE = "job-requests"
TRANSIENT_ATTEMPTS = 4
TRANSIENT_DELAY_SECONDS = 0.5

bp = df.Blueprint()
log = logging.getLogger("jobclusters.triggers.servicebus")


async def handle_job_request(
    body: bytes, message_id: str | None, store: JobDefinitionStore, client: Any
) -> StartOutcome:
    request = parse_job_request(body)
    definition = await store.get(request.job)
    if definition is None:
        raise InvalidJobRequest(f"$.job: no registered job {request.job!r}")
    if problems := undeclared_parameters(definition.job, request.parameters):
        raise InvalidJobRequest("; ".join(str(p) for p in problems))
    run_request = new_run_request(
        job_id=request.job,
        job=definition.job,
        trigger=TriggerInfo(
            kind="servicebus",
            detail={"queue": QUEUE, "message_id": message_id, "idempotency_key": request.idempotency_key},
        ),
        identity=("servicebus", key) if (key := request.idempotency_key or message_id) else None,
        parameters=request.parameters,
        base_dir=definition.base_dir,
    )
    delay = TRANSIENT_DELAY_SECONDS
    for attempt in range(1, TRANSIENT_ATTEMPTS + 1):
        try:
            return await start_run(client, run_request)
        except Exception as exc:
            if attempt == TRANSIENT_ATTEMPTS:
                raise
            log.warning("job request %s: start attempt %d failed (%s); retrying", message_id, attempt, exc)
            await asyncio.sleep(delay)
            delay *= 2
    raise AssertionError("unreachable")


@bp.service_bus_queue_trigger(arg_name="msg", queue_name=QUEUE, connection="ServiceBusConnection")
@bp.durable_client_input(client_name="client")
async def start_run_from_message(msg: func.ServiceBusMessage, client: df.DurableOrchestrationClient) -> None:
    try:
        outcome = await handle_job_request(
            msg.get_body(), msg.message_id, trigger_services().definitions, client
        )
    except InvalidJobRequest as exc:
        log.error("job request %s is invalid and is dead-lettered: %s", msg.message_id, exc)
        raise
    log.info(
        "job request %s: run %s %s",
        msg.message_id,
        outcome.run_id,
        "started" if outcome.started else "exists",
    )
