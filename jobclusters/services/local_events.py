"""Run events in local mode: a topic of the local Service Bus (`localbus`) that the host serves.

The publisher writes to the transport library directly rather than through an output binding: the notify
activity needs deterministic message ids (duplicate detection on Azure), which an output binding cannot set.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


class LocalTopicPublisher:
    def __init__(self, state_dir: Path, topic: str) -> None:
        from localbus.store import LocalServiceBus, state_dir_from_environment

        self._bus = LocalServiceBus(state_dir_from_environment() or state_dir)
        self._topic = topic
        self._bus.create_topic(topic)

    def publish(self, event: dict[str, Any], message_id: str) -> None:
        self._bus.send(self._topic, event, message_id=message_id, subject=str(event.get("event", "")))

    def close(self) -> None:
        self._bus.close()
