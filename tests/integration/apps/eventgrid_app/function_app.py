"""A test app with Event Grid functions; subscriptions come from the config file each test writes."""

from __future__ import annotations

from typing import Any

import azure.functions as func

app = func.FunctionApp()
EVENTS: list[tuple[str, dict[str, Any]]] = []


def _seen(event: func.EventGridEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "subject": event.subject,
        "event_type": event.event_type,
        "topic": event.topic,
        "event_time": event.event_time,
        "data": event.get_json(),
    }


@app.event_grid_trigger(arg_name="event")
def on_blob_event(event: func.EventGridEvent) -> None:
    EVENTS.append(("on_blob_event", _seen(event)))


@app.event_grid_trigger(arg_name="event")
def always_fails(event: func.EventGridEvent) -> None:
    EVENTS.append(("always_fails", _seen(event)))
    raise RuntimeError(f"cannot handle {event.subject}")
