"""A local Service Bus: queues, topics with subscriptions, peek-lock delivery and dead-lettering, in SQLite.

There is no Service Bus emulator on this machine, so the broker keeps messages in
`<state dir>/servicebus.sqlite3` (devhost keeps it in its state dir and exports that as
`LOCALBUS_STATE_DIR` to the code it hosts). The rules follow the broker where users depend on them
(at-least-once peek-lock, delivery count, max delivery count then dead-letter, scheduled enqueue, time
to live); the differences are listed in docs/devhost-triggers.md.
Several processes may use the same file at once (the host and `send-message`): every change is one
SQLite transaction.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from localbus.config import EmulatorConfig, EntityProperties

DB_FILE = "servicebus.sqlite3"
# The running host exports its state directory here so app code in local mode finds the same broker.
STATE_DIR_ENV = "LOCALBUS_STATE_DIR"
MAX_DELIVERY_REASON = "MaxDeliveryCountExceeded"
TTL_REASON = "TTLExpiredException"

SCHEMA = """
CREATE TABLE IF NOT EXISTS entities (
    path TEXT PRIMARY KEY,
    kind TEXT NOT NULL,              -- queue | topic | subscription
    topic TEXT,
    max_delivery_count INTEGER NOT NULL,
    lock_seconds REAL NOT NULL,
    ttl_seconds REAL NOT NULL,
    dead_letter_on_expiration INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    entity TEXT NOT NULL,
    state TEXT NOT NULL,             -- active | deadletter
    message_id TEXT NOT NULL,
    correlation_id TEXT,
    content_type TEXT,
    subject TEXT,
    reply_to TEXT,
    to_address TEXT,
    session_id TEXT,
    partition_key TEXT,
    properties TEXT NOT NULL,
    body BLOB NOT NULL,
    enqueued_at REAL NOT NULL,
    visible_at REAL NOT NULL,
    scheduled_at REAL,
    expires_at REAL NOT NULL,
    ttl_seconds REAL NOT NULL,
    delivery_count INTEGER NOT NULL DEFAULT 0,
    lock_token TEXT,
    locked_until REAL,
    dead_letter_reason TEXT,
    dead_letter_description TEXT,
    dead_letter_source TEXT
);
CREATE INDEX IF NOT EXISTS messages_ready ON messages (entity, state, visible_at);
CREATE UNIQUE INDEX IF NOT EXISTS messages_lock ON messages (lock_token);
"""


class EntityNotFound(LookupError):
    pass


class LockLost(RuntimeError):
    """The lock token is unknown or expired: another receiver may have the message now (as on the broker)."""


@dataclass(frozen=True)
class StoredMessage:
    """One message as the broker holds it; field names follow azure-servicebus' ServiceBusReceivedMessage."""

    sequence_number: int
    entity_path: str
    message_id: str
    body: bytes
    application_properties: dict[str, Any]
    content_type: str | None
    correlation_id: str | None
    subject: str | None
    reply_to: str | None
    to: str | None
    session_id: str | None
    partition_key: str | None
    enqueued_time_utc: datetime
    scheduled_enqueue_time_utc: datetime | None
    expires_at_utc: datetime
    time_to_live: timedelta
    delivery_count: int
    lock_token: str | None = None
    locked_until_utc: datetime | None = None
    dead_letter_reason: str | None = None
    dead_letter_error_description: str | None = None
    dead_letter_source: str | None = None
    state: str = "active"

    def body_text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


def subscription_path(topic: str, subscription: str) -> str:
    return f"{topic}/Subscriptions/{subscription}"


def _ts(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, tz=UTC)


def _encode_body(body: bytes | str | Mapping[str, Any] | Sequence[Any]) -> tuple[bytes, str | None]:
    if isinstance(body, bytes | bytearray):
        return bytes(body), None
    if isinstance(body, str):
        return body.encode("utf-8"), None
    return json.dumps(body).encode("utf-8"), "application/json"


def state_dir_from_environment() -> Path | None:
    value = os.environ.get(STATE_DIR_ENV)
    return Path(value) if value else None


# Same-process receivers register here so a send wakes them at once instead of at their next poll.
_wakers: dict[str, set[Callable[[], object]]] = {}
_wakers_lock = threading.Lock()


class LocalServiceBus:
    """The local broker on one state directory. Cheap to create; every call opens its own transaction."""

    @classmethod
    def from_environment(cls) -> LocalServiceBus:
        """The broker of the devhost this process runs in (`LOCALBUS_STATE_DIR`), for app code."""
        state_dir = state_dir_from_environment()
        if state_dir is None:
            raise RuntimeError(f"{STATE_DIR_ENV} is not set: is this code run by a host of the local bus?")
        return cls(state_dir)

    def __init__(
        self, state_dir: Path | str, *, busy_timeout_s: float = 30.0, clock: Callable[[], float] = time.time
    ) -> None:
        self.state_dir = Path(state_dir)
        # Epoch seconds; lock expiry, scheduled enqueue and time to live all read it, so tests can move it.
        self.clock = clock
        self.busy_timeout_s = busy_timeout_s
        self._local = threading.local()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._db().executescript(SCHEMA)

    @property
    def path(self) -> Path:
        return self.state_dir / DB_FILE

    # ---- plumbing

    def _db(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=self.busy_timeout_s, isolation_level=None)
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db = db
        return db

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None

    def add_waker(self, waker: Callable[[], object]) -> Callable[[], None]:
        """Call `waker` after every send from this process; returns the function that unregisters it."""
        key = str(self.path.resolve())
        with _wakers_lock:
            _wakers.setdefault(key, set()).add(waker)

        def remove() -> None:
            with _wakers_lock:
                _wakers.get(key, set()).discard(waker)

        return remove

    def _wake(self) -> None:
        with _wakers_lock:
            wakers = list(_wakers.get(str(self.path.resolve()), ()))
        for waker in wakers:
            with contextlib.suppress(Exception):
                waker()

    # ---- entities

    def _upsert_entity(self, db: sqlite3.Connection, path: str, kind: str, topic: str | None,
                       props: EntityProperties | None, replace: bool) -> None:
        row = db.execute("SELECT kind FROM entities WHERE path = ?", (path,)).fetchone()
        if row is not None and row["kind"] != kind:
            raise ValueError(f"{path!r} already exists as a {row['kind']}, not a {kind}")
        if row is not None and not replace:
            return
        p = props or EntityProperties()
        db.execute(
            "INSERT OR REPLACE INTO entities VALUES (?, ?, ?, ?, ?, ?, ?)",
            (path, kind, topic, p.max_delivery_count, p.lock_duration.total_seconds(),
             p.default_message_time_to_live.total_seconds(), int(p.dead_lettering_on_message_expiration)),
        )

    def create_queue(self, name: str, properties: EntityProperties | None = None) -> None:
        """Create the queue, or update its properties when `properties` is given."""
        with self._tx() as db:
            self._upsert_entity(db, name, "queue", None, properties, replace=properties is not None)

    def create_topic(self, name: str) -> None:
        with self._tx() as db:
            self._upsert_entity(db, name, "topic", None, None, replace=False)

    def create_subscription(self, topic: str, name: str, properties: EntityProperties | None = None) -> None:
        with self._tx() as db:
            self._upsert_entity(db, topic, "topic", None, None, replace=False)
            self._upsert_entity(db, subscription_path(topic, name), "subscription", topic, properties,
                                replace=properties is not None)

    def apply_config(self, config: EmulatorConfig) -> None:
        for namespace in config.UserConfig.Namespaces:
            for queue in namespace.Queues:
                self.create_queue(queue.Name, queue.Properties)
            for topic in namespace.Topics:
                self.create_topic(topic.Name)
                for sub in topic.Subscriptions:
                    self.create_subscription(topic.Name, sub.Name, sub.Properties)

    def entity_kind(self, path: str) -> str | None:
        row = self._db().execute("SELECT kind FROM entities WHERE path = ?", (path,)).fetchone()
        return None if row is None else str(row["kind"])

    # ---- sending

    def send(
        self,
        entity: str,
        body: bytes | str | Mapping[str, Any] | Sequence[Any],
        *,
        message_id: str | None = None,
        correlation_id: str | None = None,
        content_type: str | None = None,
        subject: str | None = None,
        application_properties: Mapping[str, Any] | None = None,
        scheduled_enqueue_time: datetime | None = None,
        time_to_live: timedelta | None = None,
        session_id: str | None = None,
        reply_to: str | None = None,
        to: str | None = None,
        partition_key: str | None = None,
    ) -> list[int]:
        """Send to a queue or a topic (one copy per subscription existing now); returns sequence numbers.

        An unknown name becomes a new queue (the broker would refuse it); topics exist only once created.
        dict/list bodies are sent as JSON with content type application/json.
        """
        data, implied_type = _encode_body(body)
        props = json.dumps(dict(application_properties or {}), default=str)
        now = self.clock()
        scheduled = scheduled_enqueue_time.timestamp() if scheduled_enqueue_time else None
        mid = message_id or uuid.uuid4().hex
        with self._tx() as db:
            row = db.execute("SELECT kind FROM entities WHERE path = ?", (entity,)).fetchone()
            if row is None:
                self._upsert_entity(db, entity, "queue", None, None, replace=False)
                targets = [entity]
            elif row["kind"] == "topic":
                targets = [r["path"] for r in db.execute(
                    "SELECT path FROM entities WHERE kind = 'subscription' AND topic = ?", (entity,))]
            elif row["kind"] == "queue":
                targets = [entity]
            else:
                raise ValueError(f"{entity!r} is a subscription: send to its topic instead")
            sequence_numbers = []
            for target in targets:
                ttl_row = db.execute("SELECT ttl_seconds FROM entities WHERE path = ?", (target,)).fetchone()
                ttl = min(time_to_live.total_seconds(), ttl_row["ttl_seconds"]) if time_to_live \
                    else ttl_row["ttl_seconds"]
                visible = max(now, scheduled or now)
                cur = db.execute(
                    "INSERT INTO messages (entity, state, message_id, correlation_id, content_type, subject,"
                    " reply_to, to_address, session_id, partition_key, properties, body, enqueued_at,"
                    " visible_at, scheduled_at, expires_at, ttl_seconds)"
                    " VALUES (?, 'active', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (target, mid, correlation_id, content_type or implied_type, subject, reply_to, to,
                     session_id, partition_key, props, data, visible, visible, scheduled, visible + ttl, ttl),
                )
                sequence_numbers.append(int(cur.lastrowid or 0))
        self._wake()
        return sequence_numbers

    # ---- receiving (peek-lock)

    def _entity(self, db: sqlite3.Connection, path: str) -> sqlite3.Row:
        row = db.execute("SELECT * FROM entities WHERE path = ?", (path,)).fetchone()
        if row is None:
            raise EntityNotFound(f"no queue or subscription named {path!r}")
        if row["kind"] == "topic":
            raise ValueError(f"{path!r} is a topic: receive from one of its subscriptions")
        return row

    def _dead_letter_row(self, db: sqlite3.Connection, seq: int, reason: str, description: str) -> None:
        db.execute(
            "UPDATE messages SET state = 'deadletter', lock_token = NULL, locked_until = NULL,"
            " dead_letter_reason = ?, dead_letter_description = ?, dead_letter_source = entity WHERE seq = ?",
            (reason, description, seq),
        )

    def receive(
        self, entity: str, subscription: str | None = None, *, max_messages: int = 1
    ) -> list[StoredMessage]:
        """Lock up to `max_messages` ready messages for the entity's lock duration (peek-lock)."""
        path = subscription_path(entity, subscription) if subscription else entity
        now = self.clock()
        out: list[StoredMessage] = []
        with self._tx() as db:
            ent = self._entity(db, path)
            max_delivery, lock_s = int(ent["max_delivery_count"]), float(ent["lock_seconds"])
            while len(out) < max_messages:
                rows = db.execute(
                    "SELECT * FROM messages WHERE entity = ? AND state = 'active' AND visible_at <= ?"
                    " AND (locked_until IS NULL OR locked_until < ?) ORDER BY seq LIMIT ?",
                    (path, now, now, max_messages - len(out)),
                ).fetchall()
                if not rows:
                    break
                for row in rows:
                    if row["expires_at"] <= now:
                        self._expire(db, row, bool(ent["dead_letter_on_expiration"]))
                        continue
                    if row["delivery_count"] >= max_delivery:
                        self._dead_letter_row(db, row["seq"], MAX_DELIVERY_REASON,
                                              f"Message could not be consumed after {max_delivery} delivery "
                                              "attempts (the last lock expired).")
                        continue
                    token = str(uuid.uuid4())
                    db.execute(
                        "UPDATE messages SET delivery_count = delivery_count + 1, lock_token = ?,"
                        " locked_until = ? WHERE seq = ?",
                        (token, now + lock_s, row["seq"]),
                    )
                    out.append(self._message(row, delivery_count=row["delivery_count"] + 1,
                                             lock_token=token, locked_until=now + lock_s))
        return out

    def _expire(self, db: sqlite3.Connection, row: sqlite3.Row, dead_letter: bool) -> None:
        if dead_letter:
            self._dead_letter_row(db, row["seq"], TTL_REASON, "The message expired and was dead lettered.")
        else:
            db.execute("DELETE FROM messages WHERE seq = ?", (row["seq"],))

    def _locked(self, db: sqlite3.Connection, lock_token: str) -> sqlite3.Row:
        row = db.execute(
            "SELECT m.*, e.max_delivery_count, e.lock_seconds FROM messages m JOIN entities e"
            " ON e.path = m.entity WHERE m.lock_token = ? AND m.state = 'active'",
            (lock_token,),
        ).fetchone()
        if row is None or row["locked_until"] < self.clock():
            raise LockLost(f"the lock {lock_token} is lost or expired")
        return row

    def complete(self, lock_token: str) -> None:
        with self._tx() as db:
            row = self._locked(db, lock_token)
            db.execute("DELETE FROM messages WHERE seq = ?", (row["seq"],))

    def abandon(self, lock_token: str, error: str | None = None) -> bool:
        """Release the lock; returns True when this was the last allowed delivery and it was dead-lettered.

        `error` (the handler's failure) is appended to the dead-letter description; the broker only says
        how many attempts were made, which leaves the cause to the logs.
        """
        with self._tx() as db:
            row = self._locked(db, lock_token)
            if row["delivery_count"] >= row["max_delivery_count"]:
                attempts = row["max_delivery_count"]
                description = f"Message could not be consumed after {attempts} delivery attempts."
                if error:
                    description += f" Last error: {error}"
                self._dead_letter_row(db, row["seq"], MAX_DELIVERY_REASON, description)
                dead = True
            else:
                db.execute("UPDATE messages SET lock_token = NULL, locked_until = NULL WHERE seq = ?",
                           (row["seq"],))
                dead = False
        if not dead:
            self._wake()
        return dead

    def dead_letter(self, lock_token: str, reason: str, description: str = "") -> None:
        with self._tx() as db:
            row = self._locked(db, lock_token)
            self._dead_letter_row(db, row["seq"], reason, description)

    def renew_lock(self, lock_token: str) -> datetime:
        with self._tx() as db:
            row = self._locked(db, lock_token)
            until = self.clock() + float(row["lock_seconds"])
            db.execute("UPDATE messages SET locked_until = ? WHERE seq = ?", (until, row["seq"]))
        return datetime.fromtimestamp(until, tz=UTC)

    # ---- inspection

    def _list(self, path: str, state: str) -> list[StoredMessage]:
        rows = self._db().execute(
            "SELECT * FROM messages WHERE entity = ? AND state = ? ORDER BY seq", (path, state)
        ).fetchall()
        return [self._message(r) for r in rows]

    def dead_letters(self, entity: str, subscription: str | None = None) -> list[StoredMessage]:
        """The entity's dead-letter queue (`<path>/$DeadLetterQueue` on the broker), oldest first."""
        return self._list(subscription_path(entity, subscription) if subscription else entity, "deadletter")

    def peek(self, entity: str, subscription: str | None = None) -> list[StoredMessage]:
        """Active messages (scheduled and locked ones included) without locking them."""
        return self._list(subscription_path(entity, subscription) if subscription else entity, "active")

    def next_visible_time(self, entity: str, subscription: str | None = None) -> float | None:
        """Epoch seconds when the next message becomes receivable (ready, scheduled or lock expiry)."""
        path = subscription_path(entity, subscription) if subscription else entity
        row = self._db().execute(
            "SELECT MIN(MAX(visible_at, COALESCE(locked_until, 0))) AS t FROM messages"
            " WHERE entity = ? AND state = 'active'", (path,)
        ).fetchone()
        return None if row is None or row["t"] is None else float(row["t"])

    @staticmethod
    def _message(row: sqlite3.Row, *, delivery_count: int | None = None, lock_token: str | None = None,
                 locked_until: float | None = None) -> StoredMessage:
        return StoredMessage(
            sequence_number=int(row["seq"]),
            entity_path=str(row["entity"]),
            message_id=str(row["message_id"]),
            body=bytes(row["body"]),
            application_properties=json.loads(row["properties"]),
            content_type=row["content_type"],
            correlation_id=row["correlation_id"],
            subject=row["subject"],
            reply_to=row["reply_to"],
            to=row["to_address"],
            session_id=row["session_id"],
            partition_key=row["partition_key"],
            enqueued_time_utc=datetime.fromtimestamp(row["enqueued_at"], tz=UTC),
            scheduled_enqueue_time_utc=_ts(row["scheduled_at"]),
            expires_at_utc=datetime.fromtimestamp(row["expires_at"], tz=UTC),
            time_to_live=timedelta(seconds=float(row["ttl_seconds"])),
            delivery_count=int(row["delivery_count"] if delivery_count is None else delivery_count),
            lock_token=lock_token if lock_token is not None else row["lock_token"],
            locked_until_utc=_ts(locked_until if locked_until is not None else row["locked_until"]),
            dead_letter_reason=row["dead_letter_reason"],
            dead_letter_error_description=row["dead_letter_description"],
            dead_letter_source=row["dead_letter_source"],
            state=str(row["state"]),
        )
