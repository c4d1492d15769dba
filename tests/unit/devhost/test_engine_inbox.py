from __future__ import annotations

from collections import deque
from datetime import UTC, datetime

from devhost.engine import history as h
from devhost.engine.inbox import Triage, triage
from devhost.engine.messages import HistoryMessage, InboxMessage, Queued, Resume, Suspend, Terminate

NOW = datetime(2026, 1, 2, tzinfo=UTC)


def raised(name: str, execution_id: str | None = None) -> HistoryMessage:
    return HistoryMessage(h.event_raised(NOW, name, "1"), execution_id)


def sort(
    *messages: InboxMessage, suspended: bool = False, batch: bool = True
) -> tuple[deque[Queued], Triage]:
    inbox: deque[Queued] = deque((i, m) for i, m in enumerate(messages, 1))
    out = triage(
        inbox, instance_id="i", execution_id="e", suspended=suspended, batch_completions=batch, now=NOW
    )
    return inbox, out


def test_a_suspend_holds_the_events_after_it_and_a_resume_releases_them() -> None:
    inbox, out = sort(raised("a"), Suspend("hold"), raised("b"), Resume("go"), raised("c"))
    assert not inbox
    assert [ev["Name"] for ev in out.delivered] == ["a", "c"]
    assert [m for m, _ in out.remaining] == [3]
    assert [ev["EventType"] for ev in out.control_history] == [19, 20]
    assert out.consumed == [1, 2, 4, 5] and not out.suspended


def test_a_terminate_consumes_everything_queued() -> None:
    inbox, out = sort(Suspend("x"), raised("a"), Terminate("stop"), raised("b"))
    assert not inbox and not out.remaining
    assert out.terminate_reason == "stop" and sorted(out.consumed) == [1, 2, 3, 4]


def test_events_of_an_earlier_execution_are_dropped_and_current_ones_delivered() -> None:
    _, out = sort(raised("old", "before"), raised("now", "e"), raised("any"))
    assert [ev["Name"] for ev in out.delivered] == ["now", "any"]
    assert out.consumed == [1, 2, 3]


def test_without_batching_one_completion_per_episode() -> None:
    _, out = sort(raised("a"), raised("b"), batch=False)
    assert [ev["Name"] for ev in out.delivered] == ["a"]
    assert [m for m, _ in out.remaining] == [2]
