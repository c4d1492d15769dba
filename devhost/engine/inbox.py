"""Sort one orchestration's inbox at the start of an episode: what it sees now, what waits, what is dropped.

Control requests act in arrival order: a suspend holds every later event until a resume, a terminate ends
the instance whatever else is queued. Events meant for an earlier execution (before a continue-as-new) are
dropped, as the extension drops them.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime

from devhost.engine import history as h
from devhost.engine.messages import EntityOperation, HistoryMessage, Queued, Resume, Suspend, Terminate

log = logging.getLogger("devhost.engine")


@dataclass
class Triage:
    suspended: bool
    consumed: list[int] = field(default_factory=list)  # stored message ids this episode deletes
    delivered: list[h.Event] = field(default_factory=list)  # new events for the orchestrator
    control_history: list[h.Event] = field(default_factory=list)  # ExecutionSuspended / ExecutionResumed
    remaining: deque[Queued] = field(default_factory=deque)  # held for a later episode
    status_change: str | None = None  # "suspended" / "resumed", for the log
    terminate_reason: str | None = None  # set when a Terminate came: everything is consumed


def triage(
    inbox: deque[Queued],
    *,
    instance_id: str,
    execution_id: str,
    suspended: bool,
    batch_completions: bool,
    now: datetime,
) -> Triage:
    """Empty `inbox` into a Triage. Without `batch_completions`, one completion per episode (the start
    event aside), which is what the extension does with extended sessions off."""
    out = Triage(suspended=suspended)
    while inbox:
        mid, message = inbox.popleft()
        match message:
            case Terminate(reason=reason):
                out.consumed.append(mid)
                out.consumed.extend(m for m, _ in inbox)
                out.consumed.extend(m for m, _ in out.remaining)
                inbox.clear()
                out.remaining.clear()
                out.terminate_reason = reason
                return out
            case Suspend(reason=reason):
                out.consumed.append(mid)
                if not out.suspended:
                    out.suspended = True
                    out.status_change = "suspended"
                    out.control_history.append(h.event(h.EventType.EXECUTION_SUSPENDED, now, Reason=reason))
            case Resume(reason=reason):
                out.consumed.append(mid)
                if out.suspended:
                    out.suspended = False
                    out.status_change = "resumed"
                    out.control_history.append(h.event(h.EventType.EXECUTION_RESUMED, now, Reason=reason))
            case EntityOperation():
                log.warning("instance %s is an orchestration; entity operation dropped", instance_id)
                out.consumed.append(mid)
            case HistoryMessage(event=ev, execution_id=meant_for):
                if out.suspended:
                    out.remaining.append((mid, message))
                elif meant_for and meant_for != execution_id:
                    out.consumed.append(mid)
                elif (
                    not batch_completions
                    and any(e["EventType"] != h.EventType.EXECUTION_STARTED for e in out.delivered)
                    and ev["EventType"] != h.EventType.EXECUTION_STARTED
                ):
                    out.remaining.append((mid, message))
                else:
                    out.consumed.append(mid)
                    out.delivered.append(ev)
    return out
