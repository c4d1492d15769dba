"""The stores the HTTP API and the triggers read, built once per process from settings."""

from __future__ import annotations

import asyncio
import importlib
import logging
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jobclusters.settings import Settings, get_settings
from triggers.definitions import JobDefinitionStore, TableJobDefinitionStore
from triggers.storage import storage_connection_string

# The storage SDKs log every request and response at INFO; the Functions host filters that with host.json
# log levels, devhost does not.
logging.getLogger("azure.core.pipeline.policies.http_logging_policy").setLevel(logging.WARNING)


@dataclass
class TriggerServices:
    settings: Settings
    definitions: JobDefinitionStore
    runs: Any | None  # jobclusters.tracking RunStore (sync); None until tracking has a Table implementation

    async def tracked_run(self, run_id: str) -> tuple[Any, list[Any]] | None:
        if self.runs is None:
            return None
        record, tasks = await asyncio.to_thread(self.runs.get_run_with_tasks, run_id)
        return (record, tasks) if record is not None or tasks else None


def tracking_store(settings: Settings, connection: str) -> Any | None:
    """tracking's Table store when that module provides one (`TableRunStore`)."""
    try:
        module = importlib.import_module("jobclusters.tracking.table_store")
    except ModuleNotFoundError:
        return None
    factory = getattr(module, "TableRunStore", None)
    if factory is None:
        return None
    if hasattr(factory, "from_connection_string"):
        return factory.from_connection_string(connection, table_prefix=settings.table_prefix)
    return factory(connection, table_prefix=settings.table_prefix)


@lru_cache(maxsize=1)
def trigger_services() -> TriggerServices:
    settings = get_settings()
    connection = storage_connection_string(settings)
    return TriggerServices(
        settings=settings,
        definitions=TableJobDefinitionStore(connection, settings.table_prefix),
        runs=tracking_store(settings, connection),
    )
