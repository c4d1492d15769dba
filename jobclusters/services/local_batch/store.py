"""SQLite persistence for the local Batch executor, so pools, jobs and tasks survive a restart.

One file under the state dir, WAL mode. Specs are stored as their REST JSON and runtime state as a small
JSON object per task; the executor keeps everything in memory and writes changes here in batches.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS pools (id TEXT PRIMARY KEY, spec TEXT NOT NULL, state TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS jobs (id TEXT PRIMARY KEY, spec TEXT NOT NULL, state TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tasks (
    job_id TEXT NOT NULL, task_id TEXT NOT NULL, seq INTEGER NOT NULL, kind TEXT NOT NULL,
    spec TEXT NOT NULL, runtime TEXT NOT NULL, PRIMARY KEY (job_id, task_id)
);
"""


class LocalBatchStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _write(self, statements: Iterable[tuple[str, Iterable[tuple[Any, ...]]]]) -> None:
        with self._lock:
            self._db.execute("BEGIN")
            try:
                for sql, rows in statements:
                    self._db.executemany(sql, rows)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def put_pool(self, pool_id: str, spec: dict[str, Any], state: dict[str, Any]) -> None:
        self._write(
            [
                (
                    "INSERT OR REPLACE INTO pools VALUES (?, ?, ?)",
                    [(pool_id, json.dumps(spec), json.dumps(state))],
                )
            ]
        )

    def delete_pool(self, pool_id: str) -> None:
        self._write([("DELETE FROM pools WHERE id = ?", [(pool_id,)])])

    def put_job(self, job_id: str, spec: dict[str, Any], state: dict[str, Any]) -> None:
        self._write(
            [
                (
                    "INSERT OR REPLACE INTO jobs VALUES (?, ?, ?)",
                    [(job_id, json.dumps(spec), json.dumps(state))],
                )
            ]
        )

    def delete_job(self, job_id: str) -> None:
        self._write(
            [
                ("DELETE FROM tasks WHERE job_id = ?", [(job_id,)]),
                ("DELETE FROM jobs WHERE id = ?", [(job_id,)]),
            ]
        )

    def insert_tasks(self, rows: list[tuple[str, str, int, str, dict[str, Any], dict[str, Any]]]) -> None:
        self._write(
            [
                (
                    "INSERT OR IGNORE INTO tasks VALUES (?, ?, ?, ?, ?, ?)",
                    [
                        (j, t, seq, kind, json.dumps(spec), json.dumps(rt))
                        for j, t, seq, kind, spec, rt in rows
                    ],
                )
            ]
        )

    def update_tasks(self, rows: list[tuple[str, str, dict[str, Any]]]) -> None:
        self._write(
            [
                (
                    "UPDATE tasks SET runtime = ? WHERE job_id = ? AND task_id = ?",
                    [(json.dumps(rt), j, t) for j, t, rt in rows],
                )
            ]
        )

    def load(
        self,
    ) -> tuple[
        list[tuple[str, dict[str, Any], dict[str, Any]]],
        list[tuple[str, dict[str, Any], dict[str, Any]]],
        list[tuple[str, str, int, str, dict[str, Any], dict[str, Any]]],
    ]:
        with self._lock:
            pools = [
                (i, json.loads(s), json.loads(st)) for i, s, st in self._db.execute("SELECT * FROM pools")
            ]
            jobs = [(i, json.loads(s), json.loads(st)) for i, s, st in self._db.execute("SELECT * FROM jobs")]
            tasks = [
                (j, t, seq, kind, json.loads(s), json.loads(rt))
                for j, t, seq, kind, s, rt in self._db.execute("SELECT * FROM tasks ORDER BY job_id, seq")
            ]
        return pools, jobs, tasks
