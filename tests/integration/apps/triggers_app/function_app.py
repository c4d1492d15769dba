"""A test app with one function per trigger kind; names of containers and queues come from settings so
each test uses its own."""

from __future__ import annotations

import json
from typing import Any

import azure.functions as func

app = func.FunctionApp()
EVENTS: list[tuple[str, Any]] = []


@app.blob_trigger(arg_name="blob", path="%IN_CONTAINER%/{name}.{ext}", connection="TestStorage")
@app.blob_output(arg_name="copy", path="%OUT_CONTAINER%/{name}-copy.{ext}", connection="TestStorage")
def blob_copy(blob: func.InputStream, copy: func.Out[bytes]) -> None:
    data = blob.read()
    EVENTS.append(("blob_copy", {"name": blob.name, "uri": blob.uri, "length": blob.length}))
    copy.set(data.upper())


@app.blob_trigger(arg_name="blob", path="%FAIL_CONTAINER%/{name}", connection="TestStorage")
def blob_always_fails(blob: func.InputStream) -> None:
    EVENTS.append(("blob_always_fails", blob.name))
    raise RuntimeError(f"cannot handle {blob.name}")


@app.queue_trigger(arg_name="msg", queue_name="%WORK_QUEUE%", connection="TestStorage")
@app.queue_output(arg_name="out", queue_name="%OUT_QUEUE%", connection="TestStorage")
def queue_worker(msg: func.QueueMessage, out: func.Out[str]) -> None:
    body = msg.get_body().decode()
    EVENTS.append(("queue_worker", {"body": body, "dequeue_count": msg.dequeue_count, "id": msg.id}))
    if body.startswith("fail"):
        raise ValueError(f"refusing {body}")
    out.set(f"done:{body}")


@app.service_bus_queue_trigger(arg_name="msg", queue_name="%SB_QUEUE%", connection="ServiceBus")
@app.service_bus_topic_output(arg_name="event", topic_name="%SB_TOPIC%", connection="ServiceBus")
def sb_worker(msg: func.ServiceBusMessage, event: func.Out[str]) -> None:
    body = msg.get_body().decode()
    EVENTS.append(("sb_worker", {
        "body": body, "delivery_count": msg.delivery_count, "message_id": msg.message_id,
        "correlation_id": msg.correlation_id, "properties": msg.application_properties,
        "content_type": msg.content_type, "enqueued": msg.enqueued_time_utc,
    }))
    if body.startswith("fail"):
        raise RuntimeError(f"handler refuses {body}")
    event.set(json.dumps({"handled": body}))


@app.service_bus_topic_trigger(arg_name="msg", topic_name="%SB_TOPIC%", subscription_name="audit",
                               connection="ServiceBus")
def sb_audit(msg: func.ServiceBusMessage) -> None:
    EVENTS.append(("sb_audit", json.loads(msg.get_body())))


@app.timer_trigger(schedule="%TIMER_SCHEDULE%", arg_name="timer", run_on_startup=False, use_monitor=True)
def ticker(timer: func.TimerRequest) -> None:
    EVENTS.append(("ticker", {"past_due": timer.past_due, "status": getattr(timer, "schedule_status", None)}))


@app.timer_trigger(schedule="0 0 0 1 1 *", arg_name="timer", run_on_startup=True, use_monitor=False)
def yearly_on_startup(timer: func.TimerRequest) -> None:
    EVENTS.append(("yearly_on_startup", {"past_due": timer.past_due}))


@app.timer_trigger(schedule="%SLOW_SCHEDULE%", arg_name="timer", use_monitor=False)
def slow_ticker(timer: func.TimerRequest) -> None:
    import time

    start = time.monotonic()
    time.sleep(1.3)
    EVENTS.append(("slow_ticker", (start, time.monotonic())))
