"""Run events on the Service Bus topic: devhost's local transport in local mode, azure-servicebus on Azure."""

from __future__ import annotations

import json
from typing import Any, Protocol

from jobclusters.settings import Settings


class EventPublisher(Protocol):
    def publish(self, event: dict[str, Any], message_id: str) -> None: ...


class LocalTopicPublisher:
    def __init__(self, state_dir: str, topic: str) -> None:
        from devhost.servicebus.store import LocalServiceBus

        self._bus = LocalServiceBus(state_dir)
        self._topic = topic
        self._bus.create_topic(topic)

    def publish(self, event: dict[str, Any], message_id: str) -> None:
        self._bus.send(self._topic, event, message_id=message_id, subject=str(event.get("event", "")))

    def close(self) -> None:
        self._bus.close()


class ServiceBusTopicPublisher:
    """Message ids are deterministic, so a topic with duplicate detection drops a retried send."""

    def __init__(self, connection_string: str, topic: str) -> None:
        from azure.servicebus import ServiceBusClient

        self._client = ServiceBusClient.from_connection_string(connection_string)
        self._topic = topic

    def publish(self, event: dict[str, Any], message_id: str) -> None:
        from azure.servicebus import ServiceBusMessage

        with self._client.get_topic_sender(self._topic) as sender:
            sender.send_messages(
                ServiceBusMessage(
                    json.dumps(event),
                    message_id=message_id,
                    content_type="application/json",
                    subject=str(event.get("event", "")),
                )
            )

    def close(self) -> None:
        self._client.close()


def publisher_for(settings: Settings) -> EventPublisher | None:
    """Locally the broker is the one of the devhost this code runs in (its state dir), so its
    `send-message` / `dead-letters` commands and Service Bus triggers see the run events."""
    if settings.mode == "local":
        from devhost.servicebus.store import state_dir_from_environment

        where = state_dir_from_environment() or settings.state_dir
        return LocalTopicPublisher(str(where), settings.run_events_topic)
    if settings.servicebus_connection is None:
        return None
    return ServiceBusTopicPublisher(
        settings.servicebus_connection.get_secret_value(), settings.run_events_topic
    )
