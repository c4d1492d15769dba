"""The one service locator: which implementation this process uses, chosen once by `Settings.mode` and cached.

Activities and triggers call the getters; nothing else picks implementations or asks which mode runs. In
local mode the executors (local Batch, local cluster) are long-lived objects of the host process, so the
work they started keeps running between activity calls. Tests swap implementations with `override()` and
drop everything with `reset()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar, cast

from jobclusters.arrivals.store import TableArrivals
from jobclusters.cost.budget import BudgetWatch
from jobclusters.cost.catalogue import PriceCatalogue
from jobclusters.cost.retail import PriceCache
from jobclusters.execution.batch_logs import logs_container_url
from jobclusters.execution.cluster_mapping import platform_backend
from jobclusters.execution.job_files import JobFilesStore
from jobclusters.execution.messages import TaskRunInput
from jobclusters.services.batch import BatchService
from jobclusters.services.blob_datasets import BlobDatasetReader
from jobclusters.services.blob_refs import BlobRefStore
from jobclusters.services.cluster import ClusterJobService
from jobclusters.services.run_events import EventPublisher
from jobclusters.services.storage import StorageAccount
from jobclusters.settings import Settings, get_settings
from jobclusters.tracking.control_store import ControlStore
from jobclusters.tracking.definitions import JobDefinitionStore
from jobclusters.tracking.models import RunRecord, TaskRunRecord
from jobclusters.tracking.store import RunStore

# The storage SDKs log every request and response at INFO; the Functions host filters that with host.json
# log levels, devhost does not.
logging.getLogger("azure.core.pipeline.policies.http_logging_policy").setLevel(logging.WARNING)

_T = TypeVar("_T")
_lock = threading.RLock()
_cache: dict[str, object] = {}
_overrides: dict[str, object] = {}


def _cached(key: str, build: Callable[[], _T]) -> _T:
    with _lock:
        if key in _overrides:
            return cast(_T, _overrides[key])
        if key not in _cache:
            _cache[key] = build()
        return cast(_T, _cache[key])


def settings() -> Settings:
    return get_settings()


def storage_account() -> StorageAccount:
    """The app's storage account (connection string or identity) that hands out every storage client."""
    return _cached("storage_account", lambda: StorageAccount.from_settings(settings()))


def executors_share_this_filesystem() -> bool:
    """Local executors run commands on this machine: a job file's folder and a `file://` log link are
    readable here. Azure Batch and the Spark platforms never are."""
    return settings().mode == "local"


def cluster_backend(run: TaskRunInput) -> str:
    """local | databricks | livy | synapse: local mode runs every cluster task on the local cluster."""
    return "local" if settings().mode == "local" else platform_backend(run)


def batch_logs_container() -> str | None:
    """The container Batch uploads task logs to: the configured one, else (local mode) one in the app's
    storage account; None on Azure without one (Batch cannot write a private container unauthenticated)."""
    s = settings()
    return logs_container_url(s.batch_logs_url, get_blob_refs().account_url if s.mode == "local" else None)


def get_batch_service() -> BatchService:
    """Azure Batch is cached like the other services. The local executor is not: it belongs to the process
    (its tasks outlive `reset()`), so it is looked up in `local_batch.shared` on every call."""
    with _lock:
        if "batch" in _overrides:
            return cast(BatchService, _overrides["batch"])
    s = settings()
    if s.mode == "local":
        from jobclusters.services.local_batch import shared_local_batch

        return shared_local_batch(s.state_dir, storage_connection=s.storage_connection.get_secret_value())

    def build() -> BatchService:
        from jobclusters.services.azure_batch import AzureBatchService

        return AzureBatchService.from_settings(s)

    return _cached("batch", build)


def get_cluster_service(backend: str) -> ClusterJobService:
    """`backend`: local | databricks | livy | synapse (see `cluster_backend`)."""

    def build() -> ClusterJobService:
        s = settings()
        if backend == "local":
            from jobclusters.services.local_cluster import LocalClusterJobService

            return LocalClusterJobService.from_settings(s)
        if backend == "databricks":
            from jobclusters.services.databricks import DatabricksClusterJobService

            return DatabricksClusterJobService.from_settings(s)
        if backend == "livy":
            from jobclusters.services.livy import HDInsightClusterJobService

            return HDInsightClusterJobService.from_settings(s)
        if backend == "synapse":
            from jobclusters.services.synapse import SynapseClusterJobService

            return SynapseClusterJobService.from_settings(s)
        if backend == "sql_warehouse":
            from jobclusters.services.sql_warehouse import SqlWarehouseService

            return SqlWarehouseService.from_settings(s)
        raise ValueError(f"unknown cluster backend {backend!r}: expected local, databricks, livy or synapse")

    return _cached(f"cluster:{backend}", build)


def get_run_store() -> RunStore:
    """Run and task-run records (`jobclusters.tracking`) in Table storage."""

    def build() -> RunStore:
        from jobclusters.tracking.table_store import TableRunStore

        return TableRunStore(storage_account(), table_prefix=settings().table_prefix)

    return _cached("runs", build)


def costs_are_simulated() -> bool:
    """Local mode measures runs on this machine: their cost is what Azure would charge for the same SKUs
    and durations, and says so."""
    return settings().mode == "local"


def prices_refresh() -> bool:
    """Whether this app refreshes its prices from the Retail Prices API: on Azure, or locally when an
    endpoint is configured (a mirror or a test server). Otherwise the shipped snapshot prices."""
    s = settings()
    return s.mode == "azure" or bool(s.retail_prices_url)


def get_price_cache() -> PriceCache:
    def build() -> PriceCache:
        from jobclusters.cost.retail import PriceCache

        prefix = "".join(ch for ch in settings().table_prefix if ch.isalnum()) or "jobclusters"
        prefix = prefix if prefix[0].isalpha() else "t" + prefix
        return PriceCache(storage_account().table_service().create_table_if_not_exists(f"{prefix}Prices"))

    return _cached("price_cache", build)


def get_price_catalogue() -> PriceCatalogue:
    """The shipped snapshot, or (when prices are refreshed) the last good catalogue the daily refresh
    cached in Table storage; read again at most every ten minutes."""
    from jobclusters.cost.catalogue import snapshot

    with _lock:
        if "prices" in _overrides:
            return cast(PriceCatalogue, _overrides["prices"])
    if not prices_refresh():
        return snapshot()
    now = datetime.now(UTC)
    with _lock:
        held = _cache.get("prices")
        if isinstance(held, tuple) and now - held[1] < timedelta(minutes=10):
            return cast(PriceCatalogue, held[0])
    cached = get_price_cache().load()
    catalogue = cached[0] if cached is not None else snapshot()
    with _lock:
        _cache["prices"] = (catalogue, now)
    return catalogue


def get_budget_watch() -> BudgetWatch:
    """The runs with a run budget still running (Table storage), for the budget watch timer."""

    def build() -> BudgetWatch:
        prefix = "".join(ch for ch in settings().table_prefix if ch.isalnum()) or "jobclusters"
        prefix = prefix if prefix[0].isalpha() else "t" + prefix
        return BudgetWatch(storage_account().table_service().create_table_if_not_exists(f"{prefix}Budgets"))

    return _cached("budgets", build)


def get_control_store() -> ControlStore:
    """Cancel markers, remote-run handles and concurrency slots of runs (Table storage)."""

    def build() -> ControlStore:
        from jobclusters.tracking.control_store import TableControlStore

        return TableControlStore(storage_account(), f"{settings().table_prefix}control")

    return _cached("control", build)


def get_blob_refs() -> BlobRefStore:
    """Blob storage for large values that travel as references (input manifests, logs)."""

    def build() -> BlobRefStore:
        from jobclusters.services.blob_refs import BlobRefs

        return BlobRefs(storage_account())

    return _cached("blobs", build)


def get_job_files_store() -> JobFilesStore:
    """Job folders staged for Batch tasks (`jobclusters.execution.job_files`), in the app's storage account:
    on Azure it must be the Batch account's auto-storage account, where `autoStorageContainerName` points."""

    def build() -> JobFilesStore:
        from jobclusters.services.job_files_store import BlobJobFilesStore

        return BlobJobFilesStore(storage_account())

    return _cached("job_files", build)


def get_blob_datasets(account_url: str | None) -> BlobDatasetReader:
    """Blobs a GetMetadata / Lookup dataset names: the app's storage on the embedded default (and when the
    linked service names no account), else the linked service's account with the app's identity."""
    from jobclusters.services.blob_datasets import BlobServiceDatasets

    if settings().mode == "local" or account_url is None:
        return _cached("blob_datasets", lambda: BlobServiceDatasets(storage_account().blob_service()))

    def build() -> BlobDatasetReader:
        from azure.storage.blob import BlobServiceClient

        from jobclusters.services.identity import token_credential

        credential = token_credential("default", None)
        return BlobServiceDatasets(BlobServiceClient(account_url, credential=credential))

    return _cached(f"blob_datasets:{account_url}", build)


def get_event_publisher() -> EventPublisher | None:
    """Run events on the Service Bus topic: the local transport of the devhost this code runs in (its
    `send-message` / `dead-letters` commands and Service Bus triggers see them), azure-servicebus on Azure,
    none on Azure without a Service Bus connection."""

    def build() -> EventPublisher | None:
        s = settings()
        if s.mode == "local":
            from jobclusters.services.local_events import LocalTopicPublisher

            return LocalTopicPublisher(s.state_dir, s.run_events_topic)
        from jobclusters.services.servicebus_connection import ServiceBusNamespace

        namespace = ServiceBusNamespace.from_settings(s)
        if namespace is None:
            return None
        from jobclusters.services.run_events import ServiceBusTopicPublisher

        return ServiceBusTopicPublisher(namespace, s.run_events_topic)

    return _cached("events", build)


def get_job_definitions() -> JobDefinitionStore:
    """Registered job definitions (Table rows plus blob documents) the HTTP API and the triggers read."""

    def build() -> JobDefinitionStore:
        from jobclusters.tracking.definitions import TableJobDefinitionStore

        return TableJobDefinitionStore(storage_account(), settings().table_prefix)

    return _cached("definitions", build)


def get_arrivals() -> TableArrivals:
    """Blob arrivals pending per job, and the receipt of every upload (`jobclusters.arrivals.store`)."""

    def build() -> TableArrivals:
        return TableArrivals(storage_account(), settings().table_prefix)

    return _cached("arrivals", build)


@dataclass
class TriggerServices:
    """What the HTTP API and the triggers read, as one value (tests build it with fakes)."""

    settings: Settings
    definitions: JobDefinitionStore
    runs: RunStore | None

    async def tracked_run(self, run_id: str) -> tuple[RunRecord | None, list[TaskRunRecord]] | None:
        if self.runs is None:
            return None
        record, tasks = await asyncio.to_thread(self.runs.get_run_with_tasks, run_id)
        return (record, tasks) if record is not None or tasks else None


def trigger_services() -> TriggerServices:
    return _cached(
        "triggers",
        lambda: TriggerServices(settings=settings(), definitions=get_job_definitions(), runs=get_run_store()),
    )


def override(name: str, service: object) -> None:
    """Use `service` for `name` (batch, cluster:<backend>, runs, control, blobs, events, definitions,
    storage_account)."""
    with _lock:
        _overrides[name] = service


def reset() -> None:
    """Forget cached services (closing what can be closed) and overrides; settings are re-read."""
    with _lock:
        services = list(_cache.values())
        _cache.clear()
        _overrides.clear()
        get_settings.cache_clear()
    for service in services:
        _close(service)


def _close(service: Any) -> None:
    """Close what can be closed, without waiting for work in flight where `close` offers that."""
    close = getattr(service, "close", None)
    if not callable(close):
        return
    with contextlib.suppress(Exception):
        if "wait" in inspect.signature(close).parameters:
            close(wait=False)
        else:
            close()


def close_local_batch(state_dir: Any) -> None:
    """Stop the process's local Batch executor of `state_dir` (tests and shutdown)."""
    from pathlib import Path

    from jobclusters.services.local_batch import close_shared_local_batch

    close_shared_local_batch(Path(state_dir))


@contextlib.contextmanager
def overridden(**services: object) -> Iterator[None]:
    for name, service in services.items():
        override(name.replace("_", ":", 1) if name.startswith("cluster_") else name, service)
    try:
        yield
    finally:
        reset()
