"""The process's one local Batch executor per state dir, the only place that keeps it.

Activities come and go while the tasks an executor started keep running, so the executor lives as long as
the process (closed at exit, when its running tasks are recorded as running for the next owner to requeue)
or until `close_shared_local_batch`. The factory looks it up here on every call instead of caching it.
"""

from __future__ import annotations

import atexit
import threading
import time
from collections.abc import Callable
from pathlib import Path

from jobclusters.services.local_batch.service import LocalBatchService

_executors: dict[Path, LocalBatchService] = {}
_lock = threading.Lock()


def shared_local_batch(
    state_dir: Path,
    *,
    storage_connection: str | None = None,
    max_slots: int | None = None,
    clock: Callable[[], float] = time.time,
) -> LocalBatchService:
    """The executor of `state_dir`, created on first use; a closed one is replaced, never handed out.
    `clock` is the one a new executor reads (a host on virtual time gives its own)."""
    key = Path(state_dir).resolve()
    with _lock:
        service = _executors.get(key)
        if service is None or service.closed:
            service = LocalBatchService(
                key, storage_connection=storage_connection, max_slots=max_slots, clock=clock
            )
            _executors[key] = service
            atexit.register(service.close)
        return service


def close_shared_local_batch(state_dir: Path) -> None:
    """Stop the executor of `state_dir`, if this process has one (tests and shutdown)."""
    with _lock:
        service = _executors.pop(Path(state_dir).resolve(), None)
    if service is not None:
        service.close()
