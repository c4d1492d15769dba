"""The extension's shim, replayed on our side: turns the orchestrator's flat action list into scheduled work.

The shim walks the action list in order and awaits each action before scheduling the next (WhenAll waits for
every child even after one failed, WhenAny for the first); event ids are allocated in that order, and a
retrying call is attempt -> timer -> attempt ..., with one more timer after the last failed attempt. The walk
is incremental (new actions and new events only), and can be rebuilt from a full history after a restart,
which is also where non-determinism is detected.
"""

from __future__ import annotations

import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from devhost.engine.decisions import CallEntity, CallTemplate, CreateTimer, Decision, SignalEntity
from devhost.engine.history import Event, EventType, parse_ts
from devhost.engine.messages import EntityRequest


class NonDeterminismError(RuntimeError):
    pass


class UnsupportedAction(RuntimeError):
    pass


class UnknownFunction(RuntimeError):
    pass


_KIND_OF_EVENT = {
    int(EventType.TASK_SCHEDULED): "activity",
    int(EventType.SUB_ORCHESTRATION_CREATED): "suborch",
    int(EventType.TIMER_CREATED): "timer",
    int(EventType.EVENT_SENT): "entity",
}


def _recorded_signature(ev: Event) -> tuple[str, str]:
    kind = _KIND_OF_EVENT[ev["EventType"]]
    if kind == "timer":
        return ("timer", "")
    if kind == "entity":
        return ("entity", str(ev.get("InstanceId")))
    return (kind, str(ev.get("Name") or ""))


def entity_name_of(scheduler_id: str) -> str:
    """`@counter@key` -> `counter` (the SDK lowercases entity names in scheduler ids)."""
    return scheduler_id[1:].split("@", 1)[0] if scheduler_id.startswith("@") else scheduler_id


class Node:
    __slots__ = ("done", "failed", "parent")

    def __init__(self, parent: Node | None) -> None:
        self.parent = parent
        self.done = False
        self.failed = False

    def finish(self, failed: bool) -> None:
        if self.done:
            return
        self.done = True
        self.failed = failed
        if self.parent is not None:
            self.parent.child_done(self)

    def child_done(self, child: Node) -> None:
        raise NotImplementedError


class Group(Node):
    __slots__ = ("any_", "pending", "saw_failure")

    def __init__(self, parent: Node | None, any_: bool, size: int) -> None:
        super().__init__(parent)
        self.any_ = any_
        self.pending = size
        self.saw_failure = False

    def child_done(self, child: Node) -> None:
        if self.any_:
            self.finish(child.failed)
            return
        self.pending -= 1
        self.saw_failure = self.saw_failure or child.failed
        if self.pending <= 0:
            self.finish(self.saw_failure)


class Retry(Node):
    __slots__ = ("attempts", "interval", "max_attempts", "template", "waiting_timer", "walk")

    def __init__(
        self, parent: Node | None, walk: ShimWalk, template: CallTemplate, options: dict[str, Any]
    ) -> None:
        super().__init__(parent)
        self.walk = walk
        self.template = template
        self.max_attempts = int(options.get("maxNumberOfAttempts", 1))
        self.interval = timedelta(milliseconds=int(options.get("firstRetryIntervalInMilliseconds", 0)))
        self.attempts = 1
        self.waiting_timer = False

    def child_done(self, child: Node) -> None:
        if self.waiting_timer:
            self.waiting_timer = False
            if self.attempts >= self.max_attempts:
                self.finish(True)
            else:
                self.attempts += 1
                self.walk.schedule_call(self.template, self)
            return
        if not child.failed:
            self.finish(False)
            return
        self.waiting_timer = True
        self.walk.schedule_timer(self.walk.now + self.interval, self)


@dataclass
class ShimWalk:
    instance_id: str
    id_seed: str
    now: datetime
    next_id: int = 0
    actions: list[dict[str, Any]] = field(default_factory=list)
    pos: int = 0
    current: Node | None = None
    by_id: dict[int, Node] = field(default_factory=dict)
    waiters: dict[str, deque[Node]] = field(default_factory=dict)
    buffered: dict[str, deque[Event]] = field(default_factory=dict)
    decisions: list[Decision] = field(default_factory=list)
    continue_as_new: dict[str, Any] | None = None
    # Names the host knows; scheduling anything else fails the orchestration, as the extension does.
    known_activities: frozenset[str] | None = None
    known_orchestrators: frozenset[str] | None = None
    known_entities: frozenset[str] | None = None  # lowercased

    def add_actions(self, actions: list[dict[str, Any]]) -> None:
        self.actions.extend(actions)

    def take_decisions(self) -> list[Decision]:
        out, self.decisions = self.decisions, []
        return out

    def pending_timer_ids(self) -> set[int]:
        return set(self.by_id)

    def sdk_ahead(self) -> bool:
        """The orchestrator emitted actions the shim has not reached (it is still awaiting an earlier one)."""
        return self.current is not None and not self.current.done and self.pos < len(self.actions)

    def retry_pending(self) -> bool:
        return any(isinstance(node, Retry) or isinstance(node.parent, Retry) for node in self.by_id.values())

    def apply(self, ev: Event) -> None:
        kind = ev["EventType"]
        if kind == EventType.EVENT_RAISED:
            name = str(ev.get("Name"))
            waiting = self.waiters.get(name)
            if waiting:
                # The extension keeps waiters for one name on a stack: the newest wait gets the event.
                waiting.pop().finish(False)
            else:
                self.buffered.setdefault(name, deque()).append(ev)
        elif kind in (EventType.TASK_COMPLETED, EventType.SUB_ORCHESTRATION_COMPLETED):
            self._resolve(ev.get("TaskScheduledId"), False)
        elif kind in (EventType.TASK_FAILED, EventType.SUB_ORCHESTRATION_FAILED):
            self._resolve(ev.get("TaskScheduledId"), True)
        elif kind == EventType.TIMER_FIRED:
            self._resolve(ev.get("TimerId"), False)
        else:
            return
        self.advance()

    def _resolve(self, key: Any, failed: bool) -> None:
        node = self.by_id.pop(int(key), None) if key is not None else None
        if node is not None:
            node.finish(failed)

    def advance(self) -> None:
        while True:
            if self.current is not None and not self.current.done:
                return
            if self.pos >= len(self.actions):
                self.current = None
                return
            action = self.actions[self.pos]
            self.pos += 1
            self.current = self.build(action, None)

    def build(self, action: dict[str, Any], parent: Node | None) -> Node:
        kind = action.get("actionType")
        if kind in (11, 12):
            children = action.get("compoundActions") or []
            group = Group(parent, kind == 11, len(children))
            if not children:
                group.finish(False)
            for child in children:
                self.build(child, group)
            return group
        if kind in (0, 2):
            return self.schedule_call(self._call_template(action), parent)
        if kind in (1, 3):
            retry = Retry(parent, self, self._call_template(action), action.get("retryOptions") or {})
            self.schedule_call(retry.template, retry)
            return retry
        if kind == 5:
            return self.schedule_timer(parse_ts(str(action["fireAt"])), parent)
        if kind == 6:
            name = str(action.get("externalEventName"))
            leaf = Node(parent)
            queue = self.buffered.get(name)
            if queue:
                queue.popleft()
                leaf.finish(False)
            else:
                self.waiters.setdefault(name, deque()).append(leaf)
            return leaf
        if kind in (7, 9):
            return self._entity_operation(action, parent, signal=kind == 9)
        if kind == 4:
            self.continue_as_new = action
            done = Node(parent)
            done.finish(False)
            return done
        labels = {8: "CallHttp", 10: "ScheduledSignalEntity"}
        raise UnsupportedAction(
            f"action {labels.get(kind or -1, kind)!s} is not supported by devhost "
            "(durable HTTP is not implemented)"
        )

    def _entity_operation(self, action: dict[str, Any], parent: Node | None, signal: bool) -> Node:
        target = str(action.get("instanceId"))
        name = entity_name_of(target)
        if self.known_entities is not None and name.lower() not in self.known_entities:
            listing = ", ".join(f"'{n}'" for n in sorted(self.known_entities))
            raise UnknownFunction(
                f"The function '{name}' doesn't exist, is disabled, or is not an entity function. "
                f"Additional info: the known entity functions are: {listing}."
            )
        event_id = self._next_event_id()
        # The extension names each request with a replay-safe GUID and waits for a response of that name.
        request_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.id_seed}:entity:{event_id}"))
        request = EntityRequest(
            id=request_id,
            op=str(action.get("operation")),
            signal=signal,
            input=action.get("input"),
            parent=None if signal else self.instance_id,
            parent_execution=None if signal else self.id_seed,
        )
        operation = SignalEntity if signal else CallEntity
        self.decisions.append(operation(event_id, target, request))
        leaf = Node(parent)
        if signal:
            leaf.finish(False)
        else:
            self.waiters.setdefault(request_id, deque()).append(leaf)
        return leaf

    def _call_template(self, action: dict[str, Any]) -> CallTemplate:
        if action.get("actionType") in (0, 1):
            return CallTemplate("activity", name=str(action.get("functionName")), input=action.get("input"))
        return CallTemplate(
            "suborch",
            name=str(action.get("functionName")),
            input=action.get("input"),
            instance_id=action.get("instanceId") or None,
        )

    def _check_exists(self, template: CallTemplate) -> None:
        known = self.known_activities if template.kind == "activity" else self.known_orchestrators
        if known is None or template.name in known:
            return
        kind = "activity" if template.kind == "activity" else "orchestrator"
        listing = ", ".join(f"'{n}'" for n in sorted(known))
        raise UnknownFunction(
            f"The function '{template.name}' doesn't exist, is disabled, or is not an {kind} function. "
            f"Additional info: the known {kind} functions are: {listing}."
        )

    def _next_event_id(self) -> int:
        event_id = self.next_id
        self.next_id += 1
        return event_id

    def schedule_call(self, template: CallTemplate, parent: Node | None) -> Node:
        self._check_exists(template)
        return self._schedule(template.scheduled(self._next_event_id(), self.id_seed), parent)

    def schedule_timer(self, fire_at: datetime, parent: Node | None) -> Node:
        return self._schedule(CreateTimer(self._next_event_id(), fire_at), parent)

    def _schedule(self, decision: Decision, parent: Node | None) -> Node:
        leaf = Node(parent)
        self.by_id[decision.event_id] = leaf
        self.decisions.append(decision)
        return leaf


def rebuild(walk: ShimWalk, history: list[Event]) -> list[Decision]:
    """Replay the shim over a stored history; return decisions not yet in it. Raise on a mismatch."""
    recorded: list[Event] = []
    made: list[Decision] = []
    for ev in history:
        kind = ev["EventType"]
        if kind == EventType.ORCHESTRATOR_STARTED:
            walk.now = parse_ts(ev["Timestamp"])
            walk.advance()
        elif kind in _KIND_OF_EVENT:
            recorded.append(ev)
        else:
            walk.apply(ev)
        made.extend(walk.take_decisions())
    walk.advance()
    made.extend(walk.take_decisions())
    for index, ev in enumerate(recorded):
        expected_kind, expected_name = _recorded_signature(ev)
        if index >= len(made):
            raise NonDeterminismError(
                f"Non-Deterministic workflow detected: history has {expected_kind} "
                f"'{expected_name}' with id {ev.get('EventId')}, but the replayed orchestrator did not "
                "schedule it"
            )
        got = made[index]
        if got.signature != (expected_kind, expected_name) or got.event_id != ev.get("EventId"):
            got_kind, got_name = got.signature
            raise NonDeterminismError(
                f"Non-Deterministic workflow detected: history has {expected_kind} '{expected_name}' "
                f"with id {ev.get('EventId')}, but the replayed orchestrator scheduled {got_kind} "
                f"'{got_name}' with id {got.event_id}"
            )
    return made[len(recorded) :]
