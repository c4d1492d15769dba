"""Run notifications: webhooks (HTTP POST with retry) and a run event on the Service Bus topic.

At-least-once: a retried activity may POST a webhook twice; the body carries a stable `event_id`
(run id + event) so receivers can drop duplicates, and the topic message uses it as message id.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import azure.durable_functions as df
import requests

from jobclusters.cost.ledger_rows import ended_run_cost
from jobclusters.execution.messages import NotifyInput, NotifyResult
from jobclusters.execution.registry import NOTIFY_RUN, activity
from jobclusters.services import factory

bp = df.Blueprint()
log = logging.getLogger(__name__)

WEBHOOK_ATTEMPTS = 3
WEBHOOK_TIMEOUT_SECONDS = 10.0
WEBHOOK_BACKOFF_SECONDS = 0.5


def _targets(inp: NotifyInput) -> list[Any]:
    n = inp.notifications
    return {
        "start": n.on_start,
        "success": n.on_success,
        "failure": n.on_failure,
        "duration_exceeded": n.on_duration_warning_threshold_exceeded,
    }[inp.event]


def post_webhook(url: str, body: dict[str, Any], sleep: Any = time.sleep) -> bool:
    """POST with retries on connection errors, 429 and 5xx; a 4xx other than 429 is final."""
    for attempt in range(WEBHOOK_ATTEMPTS):
        try:
            response = requests.post(url, json=body, timeout=WEBHOOK_TIMEOUT_SECONDS)
            if response.status_code < 400:
                return True
            if response.status_code != 429 and response.status_code < 500:
                log.warning("webhook answered %s; not retried", response.status_code)
                return False
        except requests.RequestException as exc:
            log.warning("webhook attempt %d failed: %s", attempt + 1, type(exc).__name__)
        if attempt + 1 < WEBHOOK_ATTEMPTS:
            sleep(WEBHOOK_BACKOFF_SECONDS * 2**attempt)
    return False


def event_body(inp: NotifyInput) -> dict[str, Any]:
    return {
        "event_id": f"{inp.run_id}:{inp.event}",
        "event": inp.event,
        "run_id": inp.run_id,
        "job_id": inp.job_id,
        "job_name": inp.job_name,
        "result": inp.result,
        "message": inp.message,
        "at": inp.at,
        "tasks": inp.tasks,
    }


def _run_cost(run_id: str) -> dict[str, Any] | None:
    try:
        cost = ended_run_cost(run_id)
    except Exception as exc:  # a notification never fails (or waits) for its cost
        log.warning("run %s: no cost in the notification: %s", run_id, type(exc).__name__)
        return None
    return cost.model_dump(mode="json") if cost is not None else None


@activity(bp, NOTIFY_RUN)
def notify_run(inp: NotifyInput) -> NotifyResult:
    body = event_body(inp)
    if inp.event in ("success", "failure"):
        body["cost"] = _run_cost(inp.run_id)
    result = NotifyResult()
    for target in _targets(inp):
        if target.kind != "webhook":
            log.info(
                "run %s: %s notification to an e-mail target is not sent (no mail service)",
                inp.run_id,
                inp.event,
            )
            continue
        if not target.address.startswith(("http://", "https://")):
            log.warning("run %s: webhook %r is not a URL; skipped", inp.run_id, target.address)
            result.webhooks_failed += 1
            continue
        if post_webhook(target.address, body):
            result.webhooks_sent += 1
        else:
            result.webhooks_failed += 1
    try:
        publisher = factory.get_event_publisher()
        if publisher is not None:
            publisher.publish(body, message_id=body["event_id"])
            result.topic_sent = True
    except Exception as exc:  # a notification never fails the run it reports on
        log.warning("run %s: the run event was not published: %s", inp.run_id, type(exc).__name__)
    return result
