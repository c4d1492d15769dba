"""Work the shim scheduled: each decision becomes one history event and something for the engine to run."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from devhost.engine.history import Event, EventType, format_ts
from devhost.engine.messages import EntityRequest


def _base(event_type: EventType, event_id: int, moment: datetime) -> dict[str, Any]:
    return {
        "EventType": int(event_type),
        "EventId": event_id,
        "IsPlayed": False,
        "Timestamp": format_ts(moment),
    }


@dataclass(frozen=True)
class ScheduleActivity:
    event_id: int
    name: str
    input: str | None
    kind: Literal["activity"] = "activity"

    @property
    def signature(self) -> tuple[str, str]:
        """What a replay must reproduce for the same event id."""
        return (self.kind, self.name)

    def to_event(self, moment: datetime) -> Event:
        return {
            **_base(EventType.TASK_SCHEDULED, self.event_id, moment),
            "Name": self.name,
            "Version": "",
            "Input": self.input,
        }


@dataclass(frozen=True)
class StartSubOrchestration:
    event_id: int
    name: str
    input: str | None
    instance_id: str
    kind: Literal["suborch"] = "suborch"

    @property
    def signature(self) -> tuple[str, str]:
        return (self.kind, self.name)

    def to_event(self, moment: datetime) -> Event:
        return {
            **_base(EventType.SUB_ORCHESTRATION_CREATED, self.event_id, moment),
            "Name": self.name,
            "Version": "",
            "InstanceId": self.instance_id,
            "Input": self.input,
        }


@dataclass(frozen=True)
class CreateTimer:
    event_id: int
    fire_at: datetime
    kind: Literal["timer"] = "timer"

    @property
    def signature(self) -> tuple[str, str]:
        return ("timer", "")

    def to_event(self, moment: datetime) -> Event:
        return {**_base(EventType.TIMER_CREATED, self.event_id, moment), "FireAt": format_ts(self.fire_at)}


@dataclass(frozen=True)
class EntityDecision:
    """An operation sent to an entity; `instance_id` is the entity's scheduler id (`@name@key`)."""

    event_id: int
    instance_id: str
    request: EntityRequest

    @property
    def name(self) -> str:
        return self.request.op

    @property
    def signature(self) -> tuple[str, str]:
        return ("entity", self.instance_id)

    def to_event(self, moment: datetime) -> Event:
        return {
            **_base(EventType.EVENT_SENT, self.event_id, moment),
            "InstanceId": self.instance_id,
            "Name": "op",
            "Input": json.dumps(self.request.to_json()),
        }


@dataclass(frozen=True)
class CallEntity(EntityDecision):
    """Awaited: the orchestration waits for the entity's response."""

    kind: Literal["entity_call"] = "entity_call"


@dataclass(frozen=True)
class SignalEntity(EntityDecision):
    """One-way; still sent when the orchestration completes in the same episode."""

    kind: Literal["entity_signal"] = "entity_signal"


Decision = ScheduleActivity | StartSubOrchestration | CreateTimer | CallEntity | SignalEntity


@dataclass(frozen=True)
class CallTemplate:
    """An activity or sub-orchestration call before it gets an event id (a retry schedules it again)."""

    kind: Literal["activity", "suborch"]
    name: str
    input: str | None
    instance_id: str | None = None

    def scheduled(self, event_id: int, id_seed: str) -> ScheduleActivity | StartSubOrchestration:
        if self.kind == "activity":
            return ScheduleActivity(event_id, self.name, self.input)
        # DTFx names an unnamed sub-orchestration "<parent execution id>:<event id>".
        return StartSubOrchestration(
            event_id, self.name, self.input, self.instance_id or f"{id_seed}:{event_id}"
        )
