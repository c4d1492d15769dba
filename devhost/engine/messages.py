"""What an instance's inbox holds, as typed values; the store keeps them as JSON and parses them on load.

An orchestration receives history events (with the execution they were meant for, so a message for an
execution that continued as new is dropped) and control requests; an entity receives operation requests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from devhost.engine.history import Event


@dataclass(frozen=True)
class EntityRequest:
    """One entity operation, in the extension's request message shape (`parent` is None for a signal)."""

    id: str
    op: str
    signal: bool
    input: str | None
    parent: str | None = None
    parent_execution: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "op": self.op,
            "signal": self.signal,
            "input": self.input,
            "parent": self.parent,
            "parentExecution": self.parent_execution,
        }

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> EntityRequest:
        return cls(
            id=str(body["id"]),
            op=str(body.get("op")),
            signal=bool(body.get("signal")),
            input=body.get("input"),
            parent=body.get("parent"),
            parent_execution=body.get("parentExecution"),
        )


@dataclass(frozen=True)
class HistoryMessage:
    """A history event for the instance; `execution_id` None means whichever execution is current."""

    event: Event
    execution_id: str | None = None
    kind: Literal["event"] = "event"


@dataclass(frozen=True)
class Terminate:
    reason: str
    kind: Literal["terminate"] = "terminate"


@dataclass(frozen=True)
class Suspend:
    reason: str
    kind: Literal["suspend"] = "suspend"


@dataclass(frozen=True)
class Resume:
    reason: str
    kind: Literal["resume"] = "resume"


@dataclass(frozen=True)
class EntityOperation:
    request: EntityRequest
    kind: Literal["entity_op"] = "entity_op"


InboxMessage = HistoryMessage | Terminate | Suspend | Resume | EntityOperation
Queued = tuple[int, InboxMessage]  # (stored message id, message)


def to_json(message: InboxMessage) -> dict[str, Any]:
    match message:
        case HistoryMessage(event=event, execution_id=execution_id):
            body: dict[str, Any] = {"kind": message.kind, "event": event}
            if execution_id is not None:
                body["execution_id"] = execution_id
            return body
        case Terminate(reason=reason) | Suspend(reason=reason) | Resume(reason=reason):
            return {"kind": message.kind, "reason": reason}
        case EntityOperation(request=request):
            return {"kind": message.kind, "request": request.to_json()}


def from_json(body: dict[str, Any]) -> InboxMessage:
    kind = body.get("kind")
    if kind == "event":
        return HistoryMessage(event=body["event"], execution_id=body.get("execution_id") or None)
    if kind == "terminate":
        return Terminate(str(body.get("reason", "")))
    if kind == "suspend":
        return Suspend(str(body.get("reason", "")))
    if kind == "resume":
        return Resume(str(body.get("reason", "")))
    if kind == "entity_op":
        return EntityOperation(EntityRequest.from_json(body["request"]))
    raise ValueError(f"unknown inbox message kind {kind!r}")
