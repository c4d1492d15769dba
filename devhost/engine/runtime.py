"""What the dispatcher keeps in memory per instance, and the instance state it reports."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime

from devhost.engine import history as h
from devhost.engine.messages import EntityOperation, InboxMessage, Queued
from devhost.engine.session import Session
from devhost.engine.shim import ShimWalk
from devhost.engine.store import InstanceRow
from devhost.engine_api import TERMINAL_STATUSES, InstanceState, RuntimeStatus

TERMINAL = {s.value for s in TERMINAL_STATUSES}
ACTIVE = [
    RuntimeStatus.PENDING.value,
    RuntimeStatus.RUNNING.value,
    RuntimeStatus.SUSPENDED.value,
    RuntimeStatus.CONTINUED_AS_NEW.value,
]


@dataclass
class Runtime:
    row: InstanceRow
    history: list[h.Event]
    inbox: deque[Queued] = field(default_factory=deque)
    session: Session | None = None
    walk: ShimWalk | None = None
    warned_ahead: bool = False


@dataclass(order=True)
class PendingTimer:
    fire_at: datetime
    instance_id: str = field(compare=False)
    execution_id: str = field(compare=False)
    timer_id: int = field(compare=False)
    fire_at_text: str = field(compare=False)


@dataclass
class EngineStats:
    episodes: int = 0
    replayed_events: int = 0  # events handed to orchestrator code (session feeds and full replays)
    full_replays: int = 0
    activities_run: int = 0


# (instance id, stored message id, message): stored in a transaction, handed to in-memory inboxes after it.
Outgoing = tuple[str, int, InboxMessage]
EntityOutgoing = tuple[str, int, EntityOperation]


def instance_state(
    row: InstanceRow, history: list[h.Event] | None = None, show_input: bool = True
) -> InstanceState:
    return InstanceState(
        instance_id=row.instance_id,
        name=row.name,
        runtime_status=RuntimeStatus(row.status),
        created_time=datetime.fromtimestamp(row.created, UTC),
        last_updated_time=datetime.fromtimestamp(row.updated, UTC),
        input=row.input if show_input else None,
        output=row.output,
        custom_status=row.custom_status,
        parent_instance_id=row.parent_instance_id,
        history=history,
    )
