"""Run the SDK's orchestrator code: a live generator fed only new events (extended session), or a full replay.

The SDK replays the whole history on every call (O(N^2) for N sequential steps, most of it dateutil parsing of
Timestamps). A session keeps the SDK's own context, executor and generator alive between episodes and feeds
them only new events, built without dateutil. `full_replay` goes through the unchanged out-of-proc entry
point (the JSON the extension sends, the JSON the SDK returns) and is the reference for the check mode.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import azure.functions as func
from azure.durable_functions.models.DurableOrchestrationContext import DurableOrchestrationContext
from azure.durable_functions.models.history.HistoryEvent import HistoryEvent
from azure.durable_functions.models.TaskOrchestrationExecutor import TaskOrchestrationExecutor

from devhost.engine.history import Event, EventType, parse_ts

OUT_OF_PROC_MARK = "$OutOfProcData$:"
_SKIP_FEED = frozenset(
    {
        EventType.TASK_SCHEDULED,
        EventType.TIMER_CREATED,
        EventType.SUB_ORCHESTRATION_CREATED,
        EventType.ORCHESTRATOR_COMPLETED,
    }
)
_BASE_KEYS = frozenset({"EventType", "EventId", "IsPlayed", "Timestamp"})


@dataclass
class StepResult:
    done: bool
    new_actions: list[dict[str, Any]]
    output: Any = None
    error: str | None = None
    custom_status: Any = None
    total_actions: int = 0
    fed_events: int = 0
    continue_as_new: dict[str, Any] | None = None  # the ContinueAsNew action when the orchestrator called it

    def comparable(self) -> dict[str, Any]:
        return {
            "done": self.done,
            "output": self.output,
            "error": self.error,
            "customStatus": self.custom_status,
        }


def request_body(
    instance_id: str, history: list[Event], input_json: str | None, parent_instance_id: str | None
) -> dict[str, Any]:
    """The payload the extension sends an out-of-proc orchestrator for one episode."""
    return {
        "history": history,
        "input": input_json,
        "instanceId": instance_id,
        "isReplaying": False,
        "parentInstanceId": parent_instance_id,
        "upperSchemaVersion": 1,
        "upperSchemaVersionNew": 2,
        "maximumShortTimerDuration": "6.00:00:00",
        "longRunningTimerIntervalDuration": "3.00:00:00",
    }


def parse_state(text: str) -> StepResult:
    state = json.loads(text)
    actions = state.get("actions") or [[]]
    flat = actions[0] if actions else []
    return StepResult(
        done=bool(state.get("isDone")),
        new_actions=flat,
        output=state.get("output"),
        error=state.get("error"),
        custom_status=state.get("customStatus"),
        total_actions=len(flat),
        continue_as_new=next((a for a in reversed(flat) if a.get("actionType") == 4), None),
    )


def full_replay(handle: Any, body: dict[str, Any]) -> StepResult:
    """Call the SDK's real entry point with the whole history, exactly as the Functions host does."""
    try:
        text = handle(func.OrchestrationContext(json.dumps(body)))
    except Exception as exc:
        message = str(exc)
        if OUT_OF_PROC_MARK not in message:
            # The SDK failed outside user code (no state attached): the orchestration fails with it.
            return StepResult(done=False, new_actions=[], error=message or str(type(exc)))
        return parse_state(message.split(OUT_OF_PROC_MARK, 1)[1])
    return parse_state(text)


def make_event(ev: Event, played: bool) -> HistoryEvent:
    """A HistoryEvent equal to `HistoryEvent(**ev)` but without the dateutil parse."""
    out = HistoryEvent.__new__(HistoryEvent)
    out._event_type = ev["EventType"]
    out._event_id = ev.get("EventId", -1)
    out._is_played = played
    out._timestamp = parse_ts(ev["Timestamp"])
    out._is_processed = False
    out.Name = None
    out.InstanceId = None
    out.TaskScheduledId = None
    out.Reason = None
    out.Details = None
    out.Input = None
    for key, value in ev.items():
        if key not in _BASE_KEYS:
            setattr(out, key, value)
    return out


@dataclass
class Session:
    """One live orchestrator generator and the SDK objects around it."""

    handle: Any
    context: DurableOrchestrationContext
    executor: TaskOrchestrationExecutor
    seen_actions: int = 0
    finished: bool = False
    fed_events: int = field(default=0)

    @classmethod
    def open(
        cls,
        handle: Any,
        instance_id: str,
        history: list[Event],
        input_json: str | None,
        parent_instance_id: str | None,
        new_from: int,
    ) -> tuple[Session, StepResult]:
        """Start a generator on `history`; events before index `new_from` are replayed (IsPlayed)."""
        head = [dict(history[0], IsPlayed=new_from > 1), dict(history[1], IsPlayed=new_from > 1)]
        context = DurableOrchestrationContext.from_json(
            json.dumps(request_body(instance_id, head, input_json, parent_instance_id))
        )
        context._input_expected_type = getattr(handle, "_df_input_type", None)
        executor = TaskOrchestrationExecutor()
        fn = handle.orchestrator_function
        session = cls(handle=handle, context=context, executor=executor)
        try:
            executor.execute(context, context.histories, fn)
        except Exception as exc:
            if executor.exception is None:
                executor.exception = exc
        session.fed_events = 2
        if new_from > 2:
            session._feed(history[2:new_from], played=True)
        session._feed(history[max(2, new_from) :], played=False)
        return session, session._result()

    def absorb(self, sent: list[Event]) -> None:
        """Show the SDK the EventSent events of the last episode (it maps entity calls to request ids)."""
        self._feed(sent, played=True)

    def step(self, new_events: list[Event]) -> StepResult:
        self._feed(new_events, played=False)
        return self._result()

    def _feed(self, events: list[Event], played: bool) -> None:
        executor = self.executor
        if not played:
            executor._is_processing_new_events = True
        histories = self.context._histories
        for ev in events:
            if self.finished or executor.has_execution_completed:
                break
            if ev["EventType"] in _SKIP_FEED:
                continue
            hev = make_event(ev, played)
            histories.append(hev)
            self.fed_events += 1
            try:
                executor.process_event(hev)
            except Exception as exc:
                executor.exception = exc

    def _result(self) -> StepResult:
        executor = self.executor
        output = executor.output
        if output is not None:
            try:
                json.dumps(output)
            except Exception as exc:
                executor.output = output = None
                executor.exception = exc
        error = None
        if executor.exception is not None:
            error = str(executor.exception) or str(type(executor.exception))
        done = executor.orchestration_invocation_succeeded or executor.exception is not None
        self.finished = done
        payload = self.context._action_payload_v2
        new = [action.to_json() for action in payload[self.seen_actions :]]
        self.seen_actions = len(payload)
        custom = self.context.custom_status
        continued = None
        if self.context.will_continue_as_new:
            continued = next((a.to_json() for a in reversed(payload) if a.action_type == 4), None)
        return StepResult(
            done=bool(executor.orchestration_invocation_succeeded),
            new_actions=new,
            output=output,
            error=error,
            custom_status=custom if custom else None,
            total_actions=len(payload),
            fed_events=self.fed_events,
            continue_as_new=continued,
        )
