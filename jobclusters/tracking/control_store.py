"""Run control rows in Table storage: cancel markers, remote-run handles, concurrency slots.

Cancellation is a handshake that works across orchestrator levels and retried activities: `request_cancel`
writes the run's marker, then cancels every handle registered so far; a submit checks the marker before
starting remote work, registers the handle, and checks the marker again (cancelling what it just started
if the marker appeared meanwhile). Pollers see the marker too. So no remote run outlives a cancel.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.data.tables import TableClient, UpdateMode

from jobclusters.services.storage import StorageAccount, storage_account

CANCEL_ROW = "cancel"
HANDLE_PREFIX = "handle|"
#: how long "not canceled" is believed without asking again (pollers of many tasks share one answer)
NOT_CANCELED_TTL_SECONDS = 2.0


def _key(value: str) -> str:
    """Table keys may not contain / \\ # ? or control characters."""
    return "".join("_" if ch in "/\\#?" or ord(ch) < 32 else ch for ch in value)


class ControlStore(Protocol):
    def request_cancel(self, run_id: str, reason: str) -> None: ...

    def cancel_requested(self, run_id: str, *, fresh: bool = False) -> str | None: ...

    def register_handle(self, run_id: str, attempt_id: str, kind: str, handle: dict[str, Any]) -> None: ...

    def handles(self, run_id: str) -> list[tuple[str, str, dict[str, Any]]]: ...

    def claim_slot(self, job_id: str, run_id: str, max_runs: int) -> tuple[int | None, list[str]]: ...

    def release_slot(self, job_id: str, run_id: str) -> bool: ...


class TableControlStore:
    """`clock` (seconds, monotonic) times how long "not canceled" is believed; tests pass a fake one."""

    def __init__(
        self, account: StorageAccount | str, table_name: str, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._account = storage_account(account)
        self._name = table_name
        self._clock = clock
        self._table: TableClient | None = None
        self._lock = threading.Lock()
        self._canceled: dict[str, str] = {}
        self._not_canceled_until: dict[str, float] = {}

    def _client(self) -> TableClient:
        with self._lock:
            if self._table is None:
                service = self._account.table_service()
                self._table = service.create_table_if_not_exists(self._name)
            return self._table

    def close(self) -> None:
        if self._table is not None:
            self._table.close()

    # ---------------------------------------------------------------- cancel markers

    def request_cancel(self, run_id: str, reason: str) -> None:
        self._client().upsert_entity(
            {"PartitionKey": _key(run_id), "RowKey": CANCEL_ROW, "reason": reason[:1000]},
            mode=UpdateMode.MERGE,
        )
        self._canceled[run_id] = reason

    def cancel_requested(self, run_id: str, *, fresh: bool = False) -> str | None:
        """The cancel reason, or None. A cancel is final, so it is remembered; "not canceled" is
        remembered for a moment only, and `fresh` always asks the table (the submit handshake does)."""
        if run_id in self._canceled:
            return self._canceled[run_id]
        if not fresh and self._not_canceled_until.get(run_id, 0.0) > self._clock():
            return None
        try:
            row = self._client().get_entity(_key(run_id), CANCEL_ROW)
        except ResourceNotFoundError:
            self._not_canceled_until[run_id] = self._clock() + NOT_CANCELED_TTL_SECONDS
            return None
        reason = str(row.get("reason") or "canceled")
        self._canceled[run_id] = reason
        return reason

    # ---------------------------------------------------------------- remote handles

    def register_handle(self, run_id: str, attempt_id: str, kind: str, handle: dict[str, Any]) -> None:
        self._client().upsert_entity(
            {
                "PartitionKey": _key(run_id),
                "RowKey": HANDLE_PREFIX + _key(attempt_id),
                "kind": kind,
                "handle": json.dumps(handle),
            },
            mode=UpdateMode.REPLACE,
        )

    def handles(self, run_id: str) -> list[tuple[str, str, dict[str, Any]]]:
        """(attempt id, kind, handle) of every remote run registered for the run."""
        rows = self._client().query_entities(
            "PartitionKey eq @pk and RowKey ge @lo and RowKey lt @hi",
            parameters={"pk": _key(run_id), "lo": HANDLE_PREFIX, "hi": HANDLE_PREFIX[:-1] + "}"},
        )
        return [
            (str(r["RowKey"])[len(HANDLE_PREFIX) :], str(r["kind"]), json.loads(str(r["handle"])))
            for r in rows
        ]

    # ---------------------------------------------------------------- concurrency slots

    def claim_slot(self, job_id: str, run_id: str, max_runs: int) -> tuple[int | None, list[str]]:
        """A free slot of `max_runs` for the run (the same slot again if it already holds one)."""
        table = self._client()
        pk = "slots|" + _key(job_id)
        holders: list[str] = []
        for slot in range(max_runs):
            rk = f"{slot:05d}"
            try:
                table.create_entity({"PartitionKey": pk, "RowKey": rk, "run_id": run_id})
                return slot, []
            except ResourceExistsError:
                try:
                    row = table.get_entity(pk, rk)
                except ResourceNotFoundError:
                    continue
                holder = str(row.get("run_id"))
                if holder == run_id:
                    return slot, []
                holders.append(holder)
        return None, holders

    def release_slot(self, job_id: str, run_id: str) -> bool:
        table = self._client()
        pk = "slots|" + _key(job_id)
        released = False
        for row in table.query_entities("PartitionKey eq @pk", parameters={"pk": pk}):
            if row.get("run_id") == run_id:
                try:
                    table.delete_entity(
                        pk,
                        str(row["RowKey"]),
                        etag=row.metadata["etag"],
                        match_condition=MatchConditions.IfNotModified,
                    )
                    released = True
                except (ResourceNotFoundError, ResourceExistsError):
                    pass
        return released
