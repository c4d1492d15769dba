"""Timer trigger: once a day (and at host start) refresh the price catalogue from the Azure Retail Prices
API into Table storage, where pricing reads it (`jobclusters.cost.retail.refresh_if_due`: a failed
refresh keeps the last good catalogue). Only where prices are refreshed (`factory.prices_refresh`)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import azure.durable_functions as df
import azure.functions as func

from jobclusters.cost.catalogue import snapshot
from jobclusters.cost.retail import RETAIL_PRICES_URL, refresh_if_due
from jobclusters.services import factory

bp = df.Blueprint()
log = logging.getLogger("jobclusters.triggers.prices")


@bp.timer_trigger(schedule="0 17 3 * * *", arg_name="timer", run_on_startup=True, use_monitor=False)
def refresh_prices(timer: func.TimerRequest) -> None:
    if not factory.prices_refresh():
        return
    settings = factory.settings()
    try:
        catalogue = refresh_if_due(
            factory.get_price_cache(),
            snapshot(),
            [settings.price_region],
            datetime.now(UTC),
            base_url=settings.retail_prices_url or RETAIL_PRICES_URL,
        )
        log.info("prices as of %s", catalogue.as_of)
    except Exception:
        log.exception("price refresh: this tick failed; the last good catalogue stays")
