from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from devhost.engine import history as h
from devhost.engine.decisions import (
    CallEntity,
    CallTemplate,
    CreateTimer,
    SignalEntity,
    StartSubOrchestration,
)
from devhost.engine.messages import (
    EntityOperation,
    EntityRequest,
    HistoryMessage,
    InboxMessage,
    Resume,
    Suspend,
    Terminate,
    from_json,
    to_json,
)
from devhost.engine.store import Store

NOW = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
REQUEST = EntityRequest(id="r1", op="add", signal=False, input="5", parent="p", parent_execution="e")


@pytest.mark.parametrize(
    "message",
    [
        HistoryMessage(h.event_raised(NOW, "Approve", '"yes"')),
        HistoryMessage(h.timer_fired(NOW, 3, h.format_ts(NOW)), execution_id="exec-1"),
        Terminate("done"),
        Suspend("hold"),
        Resume("go"),
        EntityOperation(REQUEST),
    ],
)
def test_every_inbox_message_survives_the_store(message: InboxMessage) -> None:
    store = Store(None)
    with store.transaction() as db:
        mid = store.add_message(db, "i", message)
    assert store.load_messages() == [(mid, "i", message)]
    assert from_json(json.loads(json.dumps(to_json(message)))) == message


def test_messages_stored_before_typing_still_parse() -> None:
    event = h.event_raised(NOW, "Add", "5")
    assert from_json({"kind": "event", "event": event}) == HistoryMessage(event)
    signal = {"kind": "entity_op", "request": {"id": "x", "op": "reset", "signal": True, "input": "null"}}
    assert from_json(signal) == EntityOperation(EntityRequest("x", "reset", True, "null"))
    with pytest.raises(ValueError, match="unknown inbox message kind"):
        from_json({"kind": "nonsense"})


def test_decisions_become_the_extension_history_events() -> None:
    timer = CreateTimer(2, NOW).to_event(NOW)
    assert timer["EventType"] == h.EventType.TIMER_CREATED and timer["FireAt"] == h.format_ts(NOW)
    sent = CallEntity(4, "@counter@k", REQUEST).to_event(NOW)
    assert json.loads(sent["Input"]) == {
        "id": "r1",
        "op": "add",
        "signal": False,
        "input": "5",
        "parent": "p",
        "parentExecution": "e",
    }
    assert SignalEntity(5, "@counter@k", REQUEST).signature == ("entity", "@counter@k")
    unnamed = CallTemplate("suborch", "child", None).scheduled(7, "exec")
    assert isinstance(unnamed, StartSubOrchestration) and unnamed.instance_id == "exec:7"
    assert unnamed.to_event(NOW)["InstanceId"] == "exec:7"
