"""The sweeper: deletes the on-demand pools the app created whose attempt has ended, and cancels the
Databricks one-time runs (and so their job clusters) whose attempt has ended.

Every path of an attempt deletes its pool (`batch_finish`), but a path can be cut short: a host killed
between the end and the delete, an outage longer than the retry bound, an instance terminated or purged by
hand. The owner metadata on each pool names the attempt instance that created it; once that instance has
ended (or no longer exists) nothing will use the pool again, so it goes. Pools without the metadata were
not created by the app and are never touched.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Protocol, runtime_checkable

from jobclusters.services.batch import BatchService, BatchServiceError, PoolRef
from jobclusters.services.cluster import RunHandle

log = logging.getLogger("jobclusters.sweeper")

ENDED_STATUSES = frozenset({"Completed", "Failed", "Terminated", "Canceled"})


def owner_has_ended(status_name: str | None) -> bool:
    """An owner instance that no longer exists (None) or reached a final status has ended."""
    return status_name is None or status_name in ENDED_STATUSES


async def sweep_pools(batch: BatchService, status_of: Callable[[str], Awaitable[str | None]]) -> list[str]:
    """Delete the owned pools whose owner has ended; returns their ids. One failure does not stop the
    sweep (the next tick tries again)."""
    deleted: list[str] = []
    for pool in batch.list_owned_pools():
        if not owner_has_ended(await status_of(pool.owner)):
            continue
        try:
            batch.delete_pool(PoolRef(mode="onDemand", pool_id=pool.pool_id, created=True))
        except BatchServiceError:
            log.exception("sweeper: pool %s of %s could not be deleted", pool.pool_id, pool.owner)
            continue
        log.warning("sweeper: deleted pool %s left by the ended attempt %s", pool.pool_id, pool.owner)
        deleted.append(pool.pool_id)
    return deleted


@runtime_checkable
class OwnedRuns(Protocol):
    def list_owned_runs(self) -> list[tuple[str, str]]: ...

    def cancel(self, handle: RunHandle) -> None: ...


async def sweep_cluster_runs(
    clusters: OwnedRuns, status_of: Callable[[str], Awaitable[str | None]]
) -> list[str]:
    """Cancel the app's active Databricks runs whose attempt has ended (their job clusters go with them);
    returns their run ids."""
    canceled: list[str] = []
    for run_id, owner in clusters.list_owned_runs():
        if not owner_has_ended(await status_of(owner)):
            continue
        try:
            clusters.cancel(RunHandle(backend="databricks", run_id=run_id, idempotency_key=owner))
        except Exception:
            log.exception("sweeper: Databricks run %s of %s could not be canceled", run_id, owner)
            continue
        log.warning("sweeper: canceled Databricks run %s left by the ended attempt %s", run_id, owner)
        canceled.append(run_id)
    return canceled
