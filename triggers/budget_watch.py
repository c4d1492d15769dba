"""Timer trigger (app setting `JOBCLUSTERS_BUDGET_CHECK_CRON`, NCRONTAB; every 15 s by default locally):
cancel the running runs whose cost so far crossed their `max_run_cost`, by the same cancel event the
cancel API raises (`jobclusters.cost.budget.check_running`)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import azure.durable_functions as df
import azure.functions as func

from jobclusters.cost.budget import BUDGET_ACTOR, check_running
from jobclusters.run_request import CANCEL_EVENT
from jobclusters.services import factory
from triggers.starter import status_name

bp = df.Blueprint()
log = logging.getLogger("jobclusters.triggers.budget_watch")


async def watch_budgets(client: Any, now: datetime) -> list[str]:
    async def status_of(run_id: str) -> str | None:
        return status_name(await client.get_status(run_id))

    async def cancel(run_id: str, reason: str) -> None:
        await client.raise_event(run_id, CANCEL_EVENT, {"reason": reason, "actor": BUDGET_ACTOR})

    store = factory.get_run_store()
    return await check_running(
        factory.get_budget_watch(),
        lambda run_id: store.get_run_with_tasks(run_id)[1],
        status_of,
        cancel,
        factory.get_price_catalogue(),
        now,
        region=factory.settings().price_region,
        simulated=factory.costs_are_simulated(),
    )


@bp.timer_trigger(
    schedule="%JOBCLUSTERS_BUDGET_CHECK_CRON%", arg_name="timer", run_on_startup=False, use_monitor=False
)
@bp.durable_client_input(client_name="client")
async def watch_run_budgets(timer: func.TimerRequest, client: df.DurableOrchestrationClient) -> None:
    try:
        canceled = await watch_budgets(client, datetime.now(UTC))
        if canceled:
            log.info("budget watch: canceled %s", ", ".join(canceled))
    except Exception:
        log.exception("budget watch: this tick failed; the next one tries again")
