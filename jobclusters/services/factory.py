"""Which service implementation this process uses, chosen once by `Settings.mode` and cached.

Activities call the getters; nothing else picks implementations. In local mode the executors (local Batch,
local cluster) are long-lived objects of the host process, so the work they started keeps running between
activity calls. Tests swap implementations with `override()` and drop everything with `reset()`.
"""

from __future__ import annotations

import contextlib
import inspect
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from jobclusters.services.batch import BatchService
from jobclusters.services.cluster import ClusterJobService
from jobclusters.settings import Settings, get_settings

_T = TypeVar("_T")
_lock = threading.RLock()
_cache: dict[str, Any] = {}
_overrides: dict[str, Any] = {}


def _cached(key: str, build: Callable[[], _T]) -> _T:
    with _lock:
        if key in _overrides:
            return _overrides[key]
        if key not in _cache:
            _cache[key] = build()
        return _cache[key]


def settings() -> Settings:
    return get_settings()


def get_batch_service() -> BatchService:
    """Azure Batch is cached like the other services. The local executor is not: it belongs to the process
    (its tasks outlive `reset()`), so it is looked up in `local_batch.shared` on every call."""
    with _lock:
        if "batch" in _overrides:
            return _overrides["batch"]
    s = settings()
    if s.mode == "local":
        from jobclusters.services.local_batch import shared_local_batch

        return shared_local_batch(s.state_dir, storage_connection=s.storage_connection.get_secret_value())

    def build() -> BatchService:
        from jobclusters.services.azure_batch import AzureBatchService

        return AzureBatchService.from_settings(s)

    return _cached("batch", build)


def get_cluster_service(backend: str) -> ClusterJobService:
    """`backend`: local | databricks | livy | synapse (see `execution.cluster_mapping.backend_for`)."""

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
        raise ValueError(f"unknown cluster backend {backend!r}: expected local, databricks, livy or synapse")

    return _cached(f"cluster:{backend}", build)


def get_run_store() -> Any:
    """Run and task-run records (`jobclusters.tracking`) in Table storage."""

    def build() -> Any:
        from jobclusters.tracking.table_store import TableRunStore

        return TableRunStore.from_settings(settings())

    return _cached("runs", build)


def get_control_store() -> Any:
    """Cancel markers, remote-run handles and concurrency slots of runs (Table storage)."""

    def build() -> Any:
        from activities.control_store import TableControlStore

        s = settings()
        return TableControlStore(s.storage_connection.get_secret_value(), f"{s.table_prefix}control")

    return _cached("control", build)


def get_blob_refs() -> Any:
    """Blob storage for large values that travel as references (input manifests, logs)."""

    def build() -> Any:
        from activities.blob_refs import BlobRefs

        return BlobRefs(settings().storage_connection.get_secret_value())

    return _cached("blobs", build)


def get_event_publisher() -> Any:
    """Run events on the Service Bus topic: the devhost local transport locally, azure-servicebus on Azure."""

    def build() -> Any:
        from activities.run_events import publisher_for

        return publisher_for(settings())

    return _cached("events", build)


def override(name: str, service: Any) -> None:
    """Use `service` for `name` (batch, cluster:<backend>, runs, control, blobs, events)."""
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
def overridden(**services: Any) -> Iterator[None]:
    for name, service in services.items():
        override(name.replace("_", ":", 1) if name.startswith("cluster_") else name, service)
    try:
        yield
    finally:
        reset()
