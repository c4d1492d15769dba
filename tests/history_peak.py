"""The largest history any Durable instance reached, read from devhost's own store: ground truth for the
bounded-history tests and bench/control_scale.py.

devhost clears an instance's history when it continues as new, so the size is caught as it is written: a
SQLite trigger on the history table keeps each instance's largest sequence number. Installed from the
outside into the store of a running devhost (WAL mode, so a second connection is fine); devhost itself
knows nothing of it.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

_INSTALL = """
CREATE TABLE IF NOT EXISTS peak_history (instance_id TEXT PRIMARY KEY, events INTEGER NOT NULL);
CREATE TRIGGER IF NOT EXISTS peak_history_count AFTER INSERT ON history BEGIN
    INSERT INTO peak_history VALUES (NEW.instance_id, NEW.seq + 1)
    ON CONFLICT(instance_id) DO UPDATE SET events = max(events, excluded.events);
END;
"""


class HistoryPeak:
    def __init__(self, devhost_state: Path) -> None:
        self.path = devhost_state / "devhost.sqlite3"

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(str(self.path), isolation_level=None, timeout=30)
        db.execute("PRAGMA busy_timeout=30000")
        return db

    def install(self) -> None:
        with self._connect() as db:
            db.executescript(_INSTALL)

    def largest(self, prefix: str = "") -> tuple[str, int]:
        """The instance (whose id starts with `prefix`) with the largest history so far, and its size."""
        with self._connect() as db:
            row = db.execute(
                "SELECT instance_id, events FROM peak_history WHERE instance_id LIKE ? "
                "ORDER BY events DESC LIMIT 1",
                (prefix.replace("%", "") + "%",),
            ).fetchone()
        return (row[0], int(row[1])) if row else ("", 0)

    def executions(self, instance_id: str) -> int:
        """How many executions the instance has had so far (its current input says, for run_job)."""
        with self._connect() as db:
            row = db.execute("SELECT input FROM instances WHERE instance_id=?", (instance_id,)).fetchone()
        if not row or not row[0] or '"walk"' not in row[0]:
            return 1
        value = json.loads(row[0])
        if isinstance(value, str):
            value = json.loads(value)
        return int(value["walk"]["executions"]) + 1
