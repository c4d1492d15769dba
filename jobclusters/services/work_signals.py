"""Completion pushed, polling the fallback: a local executor that knows the moment its work ends raises
`WORK_ENDED` on the orchestration waiting for it, through the Durable HTTP API of the host it runs in.

The address comes from the durable client binding the host hands the activity that starts or polls the
work (`managementUrls.sendEventPostUri`, the URL the extension documents for raising events), so the app
needs no host-specific knowledge: devhost fills the binding as the Functions host does. A signal is a hint
("poll now"), never the result: a lost, late or duplicate one costs at most one poll.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable
from urllib.parse import quote

log = logging.getLogger(__name__)

_INSTANCE_PLACEHOLDER = "INSTANCEID"
_POST_TIMEOUT_SECONDS = 5.0

Notify = Callable[[], None]


@runtime_checkable
class SignalsJobEnd(Protocol):
    """A Batch service that calls `notify` once when every task of `job_id` has completed."""

    def when_job_done(self, job_id: str, notify: Notify) -> None: ...


@runtime_checkable
class SignalsRunEnd(Protocol):
    """A cluster service that calls `notify` once when the run `run_id` has ended."""

    def when_run_ends(self, run_id: str, notify: Notify) -> None: ...


class EventRaiser:
    """Raises external events through the host's Durable HTTP API, in the background and best effort."""

    def __init__(self, send_event_uri: str) -> None:
        self._uri = send_event_uri
        self._queue: queue.SimpleQueue[tuple[str, str]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_binding(cls, binding: object) -> EventRaiser | None:
        """From a durable client binding (its JSON text or its data; None where the host gives none)."""
        try:
            data = json.loads(binding) if isinstance(binding, str | bytes) else binding
            uri = data["managementUrls"]["sendEventPostUri"]  # type: ignore[index]
        except (ValueError, KeyError, TypeError):
            return None
        if not isinstance(uri, str) or _INSTANCE_PLACEHOLDER not in uri or "{eventName}" not in uri:
            return None
        return _shared(uri)

    def notifier(self, instance_id: str, event: str) -> Notify:
        return _Signal(self, instance_id, event)

    def raise_event(self, instance_id: str, event: str) -> None:
        self._queue.put((instance_id, event))
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._send_all, name="work-signals", daemon=True)
                self._thread.start()

    def _send_all(self) -> None:
        while True:
            try:
                instance_id, event = self._queue.get(timeout=30.0)
            except queue.Empty:
                return
            url = self._uri.replace(_INSTANCE_PLACEHOLDER, quote(instance_id, safe="")).replace(
                "{eventName}", quote(event, safe="")
            )
            request = urllib.request.Request(
                url, data=b"null", method="POST", headers={"Content-Type": "application/json"}
            )
            try:
                with urllib.request.urlopen(request, timeout=_POST_TIMEOUT_SECONDS) as answer:
                    answer.read()
            except Exception as exc:  # a lost signal costs one poll; the URL (it may hold a key) stays out
                log.info(
                    "%s could not be signaled (%s): it will see its work end at its next poll",
                    instance_id,
                    type(exc).__name__,
                )


@dataclass(frozen=True)
class _Signal:
    """One event for one instance; equal signals are one (an executor keeps each once)."""

    raiser: EventRaiser
    instance_id: str
    event: str

    def __call__(self) -> None:
        self.raiser.raise_event(self.instance_id, self.event)


_raisers: dict[str, EventRaiser] = {}
_raisers_lock = threading.Lock()


def _shared(uri: str) -> EventRaiser:
    with _raisers_lock:
        raiser = _raisers.get(uri)
        if raiser is None:
            raiser = _raisers[uri] = EventRaiser(uri)
        return raiser
