"""Run events on the Service Bus topic. Which publisher a process uses is the factory's choice."""

from __future__ import annotations

import json
from typing import Any, Protocol

from jobclusters.services.servicebus_connection import ServiceBusNamespace


class EventPublisher(Protocol):
    def publish(self, event: dict[str, Any], message_id: str) -> None: ...


class ServiceBusTopicPublisher:
    """Message ids are deterministic, so a topic with duplicate detection drops a retried send."""

    def __init__(self, namespace: ServiceBusNamespace | str, topic: str) -> None:
        if isinstance(namespace, str):
            namespace = ServiceBusNamespace.from_connection_string(namespace)
        self._client = namespace.client()
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
