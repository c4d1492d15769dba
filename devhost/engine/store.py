"""SQLite persistence: instances, their history, undelivered messages, outstanding activities and timers.

Every state change that matters for recovery is one transaction: an episode commits its history, consumed
messages, new activities/timers and messages to other instances together, so a SIGKILL at any moment leaves
either the episode before or the episode after.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devhost.engine.messages import InboxMessage, from_json, to_json

SCHEMA = """
CREATE TABLE IF NOT EXISTS instances (
    instance_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    input TEXT,
    output TEXT,
    custom_status TEXT,
    parent_instance_id TEXT,
    parent_task_id INTEGER,
    execution_id TEXT NOT NULL,
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS instances_created ON instances(created, instance_id);
CREATE TABLE IF NOT EXISTS history (
    instance_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    event TEXT NOT NULL,
    PRIMARY KEY (instance_id, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    instance_id TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_instance ON messages(instance_id, id);
CREATE TABLE IF NOT EXISTS activities (
    instance_id TEXT NOT NULL,
    execution_id TEXT NOT NULL,
    task_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    input TEXT,
    PRIMARY KEY (instance_id, execution_id, task_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS entities (
    instance_id TEXT PRIMARY KEY,
    state TEXT,
    entity_exists INTEGER NOT NULL,
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS timers (
    instance_id TEXT NOT NULL,
    execution_id TEXT NOT NULL,
    timer_id INTEGER NOT NULL,
    fire_at TEXT NOT NULL,
    PRIMARY KEY (instance_id, execution_id, timer_id)
) WITHOUT ROWID;
"""


@dataclass
class InstanceRow:
    instance_id: str
    name: str
    status: str
    input: str | None
    output: str | None
    custom_status: str | None
    parent_instance_id: str | None
    parent_task_id: int | None
    execution_id: str
    created: float
    updated: float


_INSTANCE_COLUMNS = (
    "instance_id, name, status, input, output, custom_status, parent_instance_id, parent_task_id, "
    "execution_id, created, updated"
)


class Store:
    """A single connection used from the engine's event-loop thread only."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(
            str(path) if path else ":memory:", isolation_level=None, check_same_thread=False
        )
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA busy_timeout=5000")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # -- instances
    def upsert_instance(self, db: sqlite3.Connection, row: InstanceRow) -> None:
        db.execute(
            f"INSERT OR REPLACE INTO instances ({_INSTANCE_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (
                row.instance_id,
                row.name,
                row.status,
                row.input,
                row.output,
                row.custom_status,
                row.parent_instance_id,
                row.parent_task_id,
                row.execution_id,
                row.created,
                row.updated,
            ),
        )

    def get_instance(self, instance_id: str) -> InstanceRow | None:
        cur = self.db.execute(
            f"SELECT {_INSTANCE_COLUMNS} FROM instances WHERE instance_id=?", (instance_id,)
        )
        found = cur.fetchone()
        return InstanceRow(*found) if found else None

    def query_instances(self, where: str, params: list[Any], limit: int) -> list[InstanceRow]:
        cur = self.db.execute(
            f"SELECT {_INSTANCE_COLUMNS} FROM instances {where} ORDER BY created, instance_id LIMIT ?",
            [*params, limit],
        )
        return [InstanceRow(*r) for r in cur.fetchall()]

    def instances_with_status(self, statuses: Iterable[str]) -> list[InstanceRow]:
        marks = ",".join("?" for _ in statuses)
        cur = self.db.execute(
            f"SELECT {_INSTANCE_COLUMNS} FROM instances WHERE status IN ({marks})", list(statuses)
        )
        return [InstanceRow(*r) for r in cur.fetchall()]

    def delete_instance(self, db: sqlite3.Connection, instance_id: str) -> None:
        for table in ("instances", "history", "messages", "activities", "timers"):
            db.execute(f"DELETE FROM {table} WHERE instance_id=?", (instance_id,))

    # -- history
    def append_history(
        self, db: sqlite3.Connection, instance_id: str, start_seq: int, events: list[dict[str, Any]]
    ) -> None:
        db.executemany(
            "INSERT INTO history (instance_id, seq, event) VALUES (?,?,?)",
            [(instance_id, start_seq + i, json.dumps(ev)) for i, ev in enumerate(events)],
        )

    def clear_history(self, db: sqlite3.Connection, instance_id: str) -> None:
        db.execute("DELETE FROM history WHERE instance_id=?", (instance_id,))

    def load_history(self, instance_id: str) -> list[dict[str, Any]]:
        cur = self.db.execute("SELECT event FROM history WHERE instance_id=? ORDER BY seq", (instance_id,))
        return [json.loads(r[0]) for r in cur.fetchall()]

    # -- messages
    def add_message(self, db: sqlite3.Connection, instance_id: str, message: InboxMessage) -> int:
        cur = db.execute(
            "INSERT INTO messages (instance_id, body) VALUES (?,?)",
            (instance_id, json.dumps(to_json(message))),
        )
        return int(cur.lastrowid or 0)

    def delete_messages(self, db: sqlite3.Connection, ids: list[int]) -> None:
        db.executemany("DELETE FROM messages WHERE id=?", [(i,) for i in ids])

    def load_messages(self) -> list[tuple[int, str, InboxMessage]]:
        cur = self.db.execute("SELECT id, instance_id, body FROM messages ORDER BY id")
        return [(int(r[0]), str(r[1]), from_json(json.loads(r[2]))) for r in cur.fetchall()]

    # -- activities and timers
    def add_activity(
        self,
        db: sqlite3.Connection,
        instance_id: str,
        execution_id: str,
        task_id: int,
        name: str,
        input_json: str | None,
    ) -> None:
        db.execute(
            "INSERT OR REPLACE INTO activities VALUES (?,?,?,?,?)",
            (instance_id, execution_id, task_id, name, input_json),
        )

    def delete_activity(
        self, db: sqlite3.Connection, instance_id: str, execution_id: str, task_id: int
    ) -> None:
        db.execute(
            "DELETE FROM activities WHERE instance_id=? AND execution_id=? AND task_id=?",
            (instance_id, execution_id, task_id),
        )

    def load_activities(self) -> list[tuple[str, str, int, str, str | None]]:
        cur = self.db.execute("SELECT instance_id, execution_id, task_id, name, input FROM activities")
        return [(str(a), str(b), int(c), str(d), e) for a, b, c, d, e in cur.fetchall()]

    def add_timer(
        self, db: sqlite3.Connection, instance_id: str, execution_id: str, timer_id: int, fire_at: str
    ) -> None:
        db.execute(
            "INSERT OR REPLACE INTO timers VALUES (?,?,?,?)", (instance_id, execution_id, timer_id, fire_at)
        )

    def delete_timer(
        self, db: sqlite3.Connection, instance_id: str, execution_id: str, timer_id: int
    ) -> None:
        db.execute(
            "DELETE FROM timers WHERE instance_id=? AND execution_id=? AND timer_id=?",
            (instance_id, execution_id, timer_id),
        )

    def delete_work_of(self, db: sqlite3.Connection, instance_id: str) -> None:
        db.execute("DELETE FROM activities WHERE instance_id=?", (instance_id,))
        db.execute("DELETE FROM timers WHERE instance_id=?", (instance_id,))

    def load_timers(self) -> list[tuple[str, str, int, str]]:
        cur = self.db.execute("SELECT instance_id, execution_id, timer_id, fire_at FROM timers")
        return [(str(a), str(b), int(c), str(d)) for a, b, c, d in cur.fetchall()]

    # -- entities
    def get_entity(self, instance_id: str) -> tuple[bool, str | None]:
        found = self.db.execute(
            "SELECT entity_exists, state FROM entities WHERE instance_id=?", (instance_id,)
        ).fetchone()
        return (bool(found[0]), found[1]) if found else (False, None)

    def put_entity(
        self, db: sqlite3.Connection, instance_id: str, exists: bool, state: str | None, updated: float
    ) -> None:
        if not exists:
            db.execute("DELETE FROM entities WHERE instance_id=?", (instance_id,))
            return
        db.execute("INSERT OR REPLACE INTO entities VALUES (?,?,?,?)", (instance_id, state, 1, updated))
