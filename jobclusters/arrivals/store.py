"""Pending blob arrivals per job in Table storage, shared by every host over the storage account.

One row per (job, blob URL, ETag), keyed by the run id that upload would have on its own: recording an
upload twice (a redelivered event, a second host, a host with a fresh state folder) finds the row and adds
nothing, so the row is also the upload's receipt. A row is `pending` until a dispatcher claims it for a
run (conditional update on the row's ETag, so two hosts' dispatchers never hand one file to two runs);
a claim carries the dispatcher's token, and claiming again with the same token returns the same rows.
Claimed rows stay as receipts.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.data.tables import TableClient, UpdateMode

from jobclusters.arrivals.models import RuleKind
from jobclusters.run_request import derive_run_id
from jobclusters.services.storage import StorageAccount, storage_account


@dataclass(frozen=True)
class Arrival:
    job_id: str
    key: str
    rule: int
    kind: RuleKind
    url: str
    etag: str
    container: str
    name: str
    size: int
    arrived_at: datetime

    @property
    def path(self) -> str:
        return f"{self.container}/{self.name}"


def arrivals_table_name(table_prefix: str) -> str:
    prefix = re.sub(r"[^A-Za-z0-9]", "", table_prefix) or "jobclusters"
    return ("t" + prefix if not prefix[0].isalpha() else prefix) + "arrivals"


def upload_key(job_id: str, url: str, etag: str) -> str:
    """The row key: the run id the upload's own run has (an ADF storage-event run keeps it)."""
    return derive_run_id(job_id, url, etag)


def _arrival(row: Any) -> Arrival:
    return Arrival(
        job_id=str(row["PartitionKey"]),
        key=str(row["RowKey"]),
        rule=int(row["rule"]),
        kind=row["kind"],
        url=str(row["url"]),
        etag=str(row["etag"]),
        container=str(row["container"]),
        name=str(row["name"]),
        size=int(row.get("size") or 0),
        arrived_at=datetime.fromtimestamp(float(row["arrived_at"]), UTC),
    )


def _in_order(rows: list[Arrival]) -> list[Arrival]:
    return sorted(rows, key=lambda a: (a.arrived_at, a.key))


class TableArrivals:
    """`clock` (epoch seconds) stamps arrivals; tests pass a fake one."""

    def __init__(
        self,
        account: StorageAccount | str,
        table_prefix: str = "jobclusters",
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._account = storage_account(account)
        self.table_name = arrivals_table_name(table_prefix)
        self._clock = clock
        self._lock = threading.Lock()
        self._table: TableClient | None = None

    def _client(self) -> TableClient:
        with self._lock:
            if self._table is None:
                service = self._account.table_service()
                self._table = service.create_table_if_not_exists(self.table_name)
            return self._table

    def record(
        self,
        job_id: str,
        rule: int,
        kind: RuleKind,
        *,
        url: str,
        etag: str,
        container: str,
        name: str,
        size: int,
    ) -> bool:
        """Add the upload as pending; False when it was recorded before (by any host)."""
        entity = {
            "PartitionKey": job_id,
            "RowKey": upload_key(job_id, url, etag),
            "status": "pending",
            "rule": rule,
            "kind": kind,
            "url": url,
            "etag": etag,
            "container": container,
            "name": name,
            "size": size,
            "arrived_at": self._clock(),
        }
        try:
            self._client().create_entity(entity)
        except ResourceExistsError:
            return False
        return True

    def pending(self, job_id: str) -> list[Arrival]:
        rows = self._client().query_entities(
            "PartitionKey eq @pk and status eq 'pending'", parameters={"pk": job_id}
        )
        return _in_order([_arrival(r) for r in rows])

    def claimed_by(self, job_id: str, token: str) -> list[Arrival]:
        rows = self._client().query_entities(
            "PartitionKey eq @pk and token eq @token", parameters={"pk": job_id, "token": token}
        )
        return _in_order([_arrival(r) for r in rows])

    def claim(self, job_id: str, rule: int, token: str, limit: int) -> list[Arrival]:
        """Up to `limit` of the rule's oldest pending arrivals, marked as this claim's; a claim repeated
        with its token returns what it got the first time."""
        again = self.claimed_by(job_id, token)
        if again:
            return again
        table = self._client()
        rows = [
            r
            for r in table.query_entities(
                "PartitionKey eq @pk and status eq 'pending' and rule eq @rule",
                parameters={"pk": job_id, "rule": rule},
            )
        ]
        rows.sort(key=lambda r: (float(r["arrived_at"]), str(r["RowKey"])))
        got: list[Arrival] = []
        for row in rows:
            if len(got) >= limit:
                break
            try:
                table.update_entity(
                    {"PartitionKey": job_id, "RowKey": row["RowKey"], "status": "claimed", "token": token},
                    mode=UpdateMode.MERGE,
                    etag=row.metadata["etag"],
                    match_condition=MatchConditions.IfNotModified,
                )
            except (HttpResponseError, ResourceNotFoundError):
                continue  # another host's dispatcher claimed it first
            got.append(_arrival(row))
        return got

    def close(self) -> None:
        with contextlib.suppress(Exception):
            if self._table is not None:
                self._table.close()
