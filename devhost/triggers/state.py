"""Durable listener state in `<state dir>/triggers.sqlite3`: blob receipts and timer schedule status.

Blob receipts live here rather than in an `azure-webjobs-hosts` container (the real host's place): one
local SQLite row per (function, blob, ETag) is cheaper to read and to update atomically than a receipt blob
with a lease, and the state directory already holds the rest of devhost's durable state.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

DB_FILE = "triggers.sqlite3"

SCHEMA = """
CREATE TABLE IF NOT EXISTS blob_receipts (
    function TEXT NOT NULL,
    container TEXT NOT NULL,
    blob TEXT NOT NULL,
    etag TEXT NOT NULL,
    status TEXT NOT NULL,          -- pending | done | poisoned
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    updated_at REAL NOT NULL,
    PRIMARY KEY (function, container, blob, etag)
);
CREATE TABLE IF NOT EXISTS timer_status (
    function TEXT PRIMARY KEY,
    last TEXT,
    next TEXT,
    last_updated TEXT
);
"""


@dataclass(frozen=True)
class BlobReceipt:
    status: str
    attempts: int
    last_error: str | None


@dataclass(frozen=True)
class TimerStatus:
    last: str | None
    next: str | None
    last_updated: str | None


class TriggerState:
    """One SQLite connection shared by the listeners of a host (calls are short and serialized)."""

    def __init__(self, state_dir: Path) -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(state_dir / DB_FILE, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def settled_etags(self, function: str, container: str) -> dict[str, str]:
        """blob name -> an ETag already settled (done or poisoned); seeds the listener's in-memory view."""
        with self._lock:
            rows = self._db.execute(
                "SELECT blob, etag FROM blob_receipts WHERE function = ? AND container = ?"
                " AND status != 'pending' ORDER BY updated_at",
                (function, container),
            ).fetchall()
        return {blob: etag for blob, etag in rows}

    def receipt(self, function: str, container: str, blob: str, etag: str) -> BlobReceipt | None:
        with self._lock:
            row = self._db.execute(
                "SELECT status, attempts, last_error FROM blob_receipts"
                " WHERE function = ? AND container = ? AND blob = ? AND etag = ?",
                (function, container, blob, etag),
            ).fetchone()
        return None if row is None else BlobReceipt(row[0], int(row[1]), row[2])

    def begin(self, function: str, container: str, blob: str, etag: str) -> BlobReceipt:
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO blob_receipts (function, container, blob, etag, status, updated_at)"
                " VALUES (?, ?, ?, ?, 'pending', ?)",
                (function, container, blob, etag, time.time()),
            )
        return self.receipt(function, container, blob, etag) or BlobReceipt("pending", 0, None)

    def record_failure(self, function: str, container: str, blob: str, etag: str, error: str) -> int:
        with self._lock:
            self._db.execute(
                "UPDATE blob_receipts SET attempts = attempts + 1, last_error = ?, updated_at = ?"
                " WHERE function = ? AND container = ? AND blob = ? AND etag = ?",
                (error, time.time(), function, container, blob, etag),
            )
            row = self._db.execute(
                "SELECT attempts FROM blob_receipts"
                " WHERE function = ? AND container = ? AND blob = ? AND etag = ?",
                (function, container, blob, etag),
            ).fetchone()
        return int(row[0]) if row else 1

    def settle(self, function: str, container: str, blob: str, etag: str, status: str) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE blob_receipts SET status = ?, updated_at = ?"
                " WHERE function = ? AND container = ? AND blob = ? AND etag = ?",
                (status, time.time(), function, container, blob, etag),
            )

    def timer_status(self, function: str) -> TimerStatus | None:
        with self._lock:
            row = self._db.execute(
                "SELECT last, next, last_updated FROM timer_status WHERE function = ?", (function,)
            ).fetchone()
        return None if row is None else TimerStatus(*row)

    def save_timer_status(self, function: str, status: TimerStatus) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO timer_status VALUES (?, ?, ?, ?)",
                (function, status.last, status.next, status.last_updated),
            )
