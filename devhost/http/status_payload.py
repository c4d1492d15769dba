"""Instance status as the Durable HTTP API returns it (the JSON `DurableOrchestrationStatus` parses).

Payloads are stored as JSON text; the API embeds them as JSON values, falling back to the raw string when
the text is not JSON (a terminate reason, a failure message), like the extension.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from devhost.engine_api import InstanceState

_EVENT_TYPE_NAMES = {
    0: "ExecutionStarted",
    1: "ExecutionCompleted",
    2: "ExecutionFailed",
    3: "ExecutionTerminated",
    4: "TaskScheduled",
    5: "TaskCompleted",
    6: "TaskFailed",
    7: "SubOrchestrationInstanceCreated",
    8: "SubOrchestrationInstanceCompleted",
    9: "SubOrchestrationInstanceFailed",
    10: "TimerCreated",
    11: "TimerFired",
    12: "OrchestratorStarted",
    13: "OrchestratorCompleted",
    14: "EventSent",
    15: "EventRaised",
    16: "ContinueAsNew",
    17: "GenericEvent",
    18: "HistoryState",
    19: "ExecutionSuspended",
    20: "ExecutionResumed",
}


def parse_json_text(value: str | None) -> Any:
    if value is None:
        return None
    text = value.strip()
    if not text:
        return ""
    try:
        return json.loads(text)
    except ValueError:
        return value


def format_time(value: datetime) -> str:
    """Whole seconds with a `Z`, the extension's format (`ToString("s") + "Z"`)."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def status_payload(state: InstanceState, *, show_history_output: bool = False) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "name": state.name,
        "instanceId": state.instance_id,
        "runtimeStatus": str(state.runtime_status),
        "input": parse_json_text(state.input),
        "customStatus": parse_json_text(state.custom_status),
        "output": parse_json_text(state.output),
        "createdTime": format_time(state.created_time),
        "lastUpdatedTime": format_time(state.last_updated_time),
    }
    if state.history is not None:
        payload["historyEvents"] = condense_history(state.history, show_output=show_history_output)
    return payload


def _event_type_name(value: Any) -> str:
    if isinstance(value, int):
        return _EVENT_TYPE_NAMES.get(value, str(value))
    return str(value)


def condense_history(events: list[dict[str, Any]], *, show_output: bool) -> list[dict[str, Any]]:
    """The readable history the extension returns for `showHistory=true`.

    Scheduling events are folded into their completions (which gain `FunctionName` and `ScheduledTime`),
    episode markers are dropped, outputs appear only with `showHistoryOutput=true`.
    """
    scheduled: dict[tuple[str, Any], dict[str, Any]] = {}
    drop: set[int] = set()
    items = [dict(e) for e in events]
    for index, item in enumerate(items):
        kind = _event_type_name(item.get("EventType"))
        item["EventType"] = kind
        if kind in ("TaskScheduled", "SubOrchestrationInstanceCreated"):
            scheduled[(kind, item.get("EventId"))] = {"index": index, "item": item}
            item.pop("Version", None)
            item.pop("Input", None)
        elif kind in (
            "TaskCompleted",
            "TaskFailed",
            "SubOrchestrationInstanceCompleted",
            "SubOrchestrationInstanceFailed",
        ):
            origin = "TaskScheduled" if kind.startswith("Task") else "SubOrchestrationInstanceCreated"
            source = scheduled.get((origin, item.get("TaskScheduledId")))
            if source is not None:
                item["ScheduledTime"] = source["item"].get("Timestamp")
                item["FunctionName"] = source["item"].get("Name")
                drop.add(source["index"])
            item.pop("TaskScheduledId", None)
            if kind.endswith("Completed"):
                if show_output:
                    item["Result"] = parse_json_text(item.get("Result"))
                else:
                    item.pop("Result", None)
        elif kind == "ExecutionStarted":
            item["FunctionName"] = item.pop("Name", None)
            for key in ("OrchestrationInstance", "ParentInstance", "Version", "Tags", "Input"):
                item.pop(key, None)
        elif kind == "ExecutionCompleted":
            if show_output:
                item["Result"] = parse_json_text(item.get("Result"))
            else:
                item.pop("Result", None)
        elif kind in ("ExecutionTerminated", "EventRaised"):
            item.pop("Input", None)
        elif kind == "TimerFired":
            item.pop("TimerId", None)
        elif kind in ("OrchestratorStarted", "OrchestratorCompleted"):
            drop.add(index)
        item.pop("EventId", None)
        item.pop("IsPlayed", None)
    return [item for index, item in enumerate(items) if index not in drop]
