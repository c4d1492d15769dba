"""One receipt per (job, blob URL, ETag) in the storage account, so an upload starts its run once whichever
host sees it, like the Functions host's blob receipts in `azure-webjobs-hosts`.

The Durable instance check in `start_run` only knows the instances of one task hub; two local hosts (or a
host with a fresh state folder) over one account have different ones. The receipt row is the shared
record: inserted if absent before starting (`starting`, with the claiming host), then marked `started`.
An existing `started` receipt is honoured; a `starting` one held by another host is busy (the event is
retried and finds it started), unless its claim is older than `CLAIM_TIMEOUT_SECONDS` (that host died
between the claim and the start), when a conditional update takes it over. The row key is the run id,
which already derives from job, URL and ETag.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from azure.core import MatchConditions
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.data.tables import UpdateMode
from azure.data.tables.aio import TableClient

from jobclusters.services.storage import StorageAccount, storage_account

CLAIM_TIMEOUT_SECONDS = 60.0

ClaimOutcome = Literal["claimed", "started", "busy"]


@dataclass(frozen=True)
class Claim:
    outcome: ClaimOutcome
    owner: str | None = None


class UploadedBlob(Protocol):
    """What a receipt records of the upload (the trigger's `ArrivedBlob` is one)."""

    @property
    def url(self) -> str: ...

    @property
    def etag(self) -> str: ...

    @property
    def path(self) -> str: ...


class BlobReceipts(Protocol):
    async def claim(self, job_id: str, run_id: str, blob: UploadedBlob) -> Claim: ...

    async def mark_started(self, job_id: str, run_id: str) -> None: ...

    async def release(self, job_id: str, run_id: str) -> None: ...


def host_identity() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def receipts_table_name(table_prefix: str) -> str:
    prefix = re.sub(r"[^A-Za-z0-9]", "", table_prefix) or "jobclusters"
    return ("t" + prefix if not prefix[0].isalpha() else prefix) + "blobreceipts"


class TableBlobReceipts:
    def __init__(
        self,
        account: StorageAccount | str,
        table_prefix: str = "jobclusters",
        *,
        owner: str | None = None,
        clock: Callable[[], float] = time.time,
        claim_timeout: float = CLAIM_TIMEOUT_SECONDS,
    ) -> None:
        self._account = storage_account(account)
        self.table_name = receipts_table_name(table_prefix)
        self.owner = owner or host_identity()
        self._clock = clock
        self._claim_timeout = claim_timeout
        self._created = False

    @contextlib.asynccontextmanager
    async def _table(self) -> AsyncIterator[TableClient]:
        async with self._account.table_client_aio(self.table_name) as table:
            if not self._created:
                with contextlib.suppress(ResourceExistsError):
                    await table.create_table()
                self._created = True
            yield table

    async def claim(self, job_id: str, run_id: str, blob: UploadedBlob) -> Claim:
        entity = {
            "PartitionKey": job_id,
            "RowKey": run_id,
            "status": "starting",
            "owner": self.owner,
            "claimed_at": self._clock(),
            "url": blob.url,
            "etag": blob.etag,
            "path": blob.path,
        }
        async with self._table() as table:
            try:
                await table.create_entity(entity)
                return Claim("claimed", self.owner)
            except ResourceExistsError:
                pass
            try:
                existing = await table.get_entity(job_id, run_id)
            except ResourceNotFoundError:
                return Claim("busy")  # released by a failed start a moment ago: the retry claims it
            owner = existing.get("owner")
            if existing.get("status") == "started":
                return Claim("started", owner)
            stale = self._clock() - float(existing.get("claimed_at") or 0.0) >= self._claim_timeout
            if owner != self.owner and not stale:
                return Claim("busy", owner)
            try:
                await table.update_entity(
                    entity,
                    mode=UpdateMode.REPLACE,
                    etag=existing.metadata["etag"],
                    match_condition=MatchConditions.IfNotModified,
                )
            except HttpResponseError:
                return Claim("busy", owner)  # another host took it over first
            return Claim("claimed", self.owner)

    async def mark_started(self, job_id: str, run_id: str) -> None:
        async with self._table() as table:
            await table.update_entity(
                {"PartitionKey": job_id, "RowKey": run_id, "status": "started", "started_at": self._clock()},
                mode=UpdateMode.MERGE,
            )

    async def release(self, job_id: str, run_id: str) -> None:
        """Drop this host's claim after a failed start, so the retried event (on any host) claims again."""
        async with self._table() as table:
            try:
                existing = await table.get_entity(job_id, run_id)
            except ResourceNotFoundError:
                return
            if existing.get("status") != "starting" or existing.get("owner") != self.owner:
                return
            with contextlib.suppress(HttpResponseError):
                await table.delete_entity(
                    job_id,
                    run_id,
                    etag=existing.metadata["etag"],
                    match_condition=MatchConditions.IfNotModified,
                )
