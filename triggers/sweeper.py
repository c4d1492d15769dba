"""Timer trigger: every five minutes (and at host start, so a crash's leftovers go at once) delete the
on-demand pools and cancel the Databricks runs whose attempt has ended (`jobclusters.execution.sweeper`)."""

from __future__ import annotations

import logging
from typing import Any

import azure.durable_functions as df
import azure.functions as func

from jobclusters.execution.sweeper import OwnedRuns, sweep_cluster_runs, sweep_pools
from jobclusters.services import factory
from triggers.starter import status_name

bp = df.Blueprint()
log = logging.getLogger("jobclusters.triggers.sweeper")


async def sweep(client: Any) -> list[str]:
    async def status_of(instance_id: str) -> str | None:
        return status_name(await client.get_status(instance_id))

    swept = await sweep_pools(factory.get_batch_service(), status_of)
    if factory.settings().databricks_host:
        clusters = factory.get_cluster_service("databricks")
        if isinstance(clusters, OwnedRuns):
            swept += await sweep_cluster_runs(clusters, status_of)
    return swept


@bp.timer_trigger(schedule="0 */5 * * * *", arg_name="timer", run_on_startup=True, use_monitor=False)
@bp.durable_client_input(client_name="client")
async def sweep_orphaned_pools(timer: func.TimerRequest, client: df.DurableOrchestrationClient) -> None:
    try:
        await sweep(client)
    except Exception:
        log.exception("sweeper: this tick failed; the next one tries again")
