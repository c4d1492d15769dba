"""The shim walk on its own: id allocation, compound waits, retries, events, rebuild checks."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from devhost.engine import history as h
from devhost.engine.decisions import ScheduleActivity, StartSubOrchestration
from devhost.engine.shim import NonDeterminismError, ShimWalk, UnknownFunction, rebuild

NOW = datetime(2030, 1, 1, tzinfo=UTC)


def call(name: str, value: int = 0) -> dict[str, object]:
    return {"actionType": 0, "functionName": name, "input": str(value)}


def activities(walk: ShimWalk) -> list[ScheduleActivity]:
    made = walk.take_decisions()
    assert all(isinstance(d, ScheduleActivity) for d in made), made
    return [d for d in made if isinstance(d, ScheduleActivity)]


def walk_of(*actions: dict[str, object]) -> ShimWalk:
    walk = ShimWalk("i", "exec", NOW)
    walk.add_actions(list(actions))
    walk.advance()
    return walk


def test_actions_are_scheduled_one_at_a_time_in_list_order() -> None:
    walk = walk_of(call("a"), call("b"))
    assert [(d.kind, d.event_id, d.name) for d in activities(walk)] == [("activity", 0, "a")]
    walk.apply(h.task_completed(NOW, 0, "1"))
    assert [(d.event_id, d.name) for d in activities(walk)] == [(1, "b")]


def test_when_all_waits_for_every_child_even_after_a_failure() -> None:
    walk = walk_of({"actionType": 12, "compoundActions": [call("a"), call("b")]}, call("next"))
    assert [d.event_id for d in walk.take_decisions()] == [0, 1]
    walk.apply(h.task_failed(NOW, 0, "boom", ""))
    assert walk.take_decisions() == []
    walk.apply(h.task_completed(NOW, 1, "1"))
    assert [(d.event_id, d.name) for d in activities(walk)] == [(2, "next")]


def test_when_any_continues_after_the_first_child() -> None:
    walk = walk_of({"actionType": 11, "compoundActions": [call("a"), call("b")]}, call("next"))
    walk.take_decisions()
    walk.apply(h.task_completed(NOW, 1, "1"))
    assert [(d.event_id, d.name) for d in activities(walk)] == [(2, "next")]


def test_retry_is_attempt_timer_pairs_with_a_final_timer() -> None:
    retry = {
        "actionType": 1,
        "functionName": "f",
        "input": "0",
        "retryOptions": {"firstRetryIntervalInMilliseconds": 1000, "maxNumberOfAttempts": 2},
    }
    walk = walk_of({"actionType": 12, "compoundActions": [retry]}, call("after"))
    seen = [(d.kind, d.event_id) for d in walk.take_decisions()]
    walk.apply(h.task_failed(NOW, 0, "x", ""))
    seen += [(d.kind, d.event_id) for d in walk.take_decisions()]
    walk.apply(h.timer_fired(NOW, 1, h.format_ts(NOW)))
    seen += [(d.kind, d.event_id) for d in walk.take_decisions()]
    walk.apply(h.task_failed(NOW, 2, "x", ""))
    seen += [(d.kind, d.event_id) for d in walk.take_decisions()]
    walk.apply(h.timer_fired(NOW, 3, h.format_ts(NOW)))
    seen += [(d.kind, d.event_id) for d in walk.take_decisions()]
    # Two attempts, a timer after each (the last one before the failure surfaces), then the next action.
    assert seen == [("activity", 0), ("timer", 1), ("activity", 2), ("timer", 3), ("activity", 4)]
    assert walk.actions[walk.pos - 1]["functionName"] == "after"


def test_external_events_buffer_fifo_and_waiters_are_served_newest_first() -> None:
    walk = walk_of({"actionType": 6, "externalEventName": "e"})
    walk.apply(h.event_raised(NOW, "other", "1"))
    assert walk.current is not None and not walk.current.done
    walk.apply(h.event_raised(NOW, "e", "1"))
    assert walk.current is None

    early = ShimWalk("i", "exec", NOW)
    early.apply(h.event_raised(NOW, "e", "1"))
    early.apply(h.event_raised(NOW, "e", "2"))
    early.add_actions([{"actionType": 6, "externalEventName": "e"}])
    early.advance()
    assert early.current is None and len(early.buffered["e"]) == 1

    stacked = walk_of(
        {
            "actionType": 11,
            "compoundActions": [
                {"actionType": 6, "externalEventName": "e"},
                {"actionType": 6, "externalEventName": "e"},
            ],
        }
    )
    first, second = list(stacked.waiters["e"])
    stacked.apply(h.event_raised(NOW, "e", "1"))
    assert second.done and not first.done


def test_unnamed_sub_orchestrations_get_dtfx_ids() -> None:
    walk = walk_of({"actionType": 2, "functionName": "child", "input": "1", "instanceId": None})
    child = walk.take_decisions()[0]
    assert isinstance(child, StartSubOrchestration) and child.instance_id == "exec:0"


def test_unknown_activity_is_refused_when_names_are_known() -> None:
    walk = ShimWalk("i", "exec", NOW, known_activities=frozenset({"a"}))
    walk.add_actions([call("b")])
    with pytest.raises(UnknownFunction, match="'b' doesn't exist"):
        walk.advance()


def test_rebuild_accepts_the_same_history_and_flags_a_different_name() -> None:
    history = [
        h.orchestrator_started(NOW),
        h.execution_started(NOW, "o", None, "i", "exec"),
        {"EventType": 4, "EventId": 0, "IsPlayed": False, "Timestamp": h.format_ts(NOW), "Name": "a"},
        h.orchestrator_completed(NOW),
        h.orchestrator_started(NOW),
        h.task_completed(NOW, 0, "1"),
        {"EventType": 4, "EventId": 1, "IsPlayed": False, "Timestamp": h.format_ts(NOW), "Name": "b"},
        h.orchestrator_completed(NOW),
    ]
    same = ShimWalk("i", "exec", NOW)
    same.add_actions([call("a"), call("b")])
    assert rebuild(same, history) == []
    changed = ShimWalk("i", "exec", NOW)
    changed.add_actions([call("a"), call("c")])
    with pytest.raises(
        NonDeterminismError, match="history has activity 'b' with id 1, .* scheduled activity 'c'"
    ):
        rebuild(changed, history)
