"""The local Batch executor: Azure Batch's semantics with real processes on this machine.

`service` is the BatchService facade; `state` (with `store`) holds pools, jobs and tasks and rebuilds them
after a restart; `scheduler` decides what runs where and what outcomes mean; `runner` (with `files`) runs
the processes; `shared` keeps the process's one executor per state dir.
"""

from __future__ import annotations

from jobclusters.services.local_batch.files import FileTransferError
from jobclusters.services.local_batch.runner import ACCOUNT_NAME
from jobclusters.services.local_batch.service import LocalBatchService
from jobclusters.services.local_batch.shared import close_shared_local_batch, shared_local_batch
from jobclusters.services.local_batch.state import PREEMPT_METADATA_KEY
from jobclusters.services.local_batch.store import LocalBatchStore

__all__ = [
    "ACCOUNT_NAME",
    "PREEMPT_METADATA_KEY",
    "FileTransferError",
    "LocalBatchService",
    "LocalBatchStore",
    "close_shared_local_batch",
    "shared_local_batch",
]
