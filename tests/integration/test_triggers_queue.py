from __future__ import annotations

import asyncio
import base64
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.storage.queue import QueueClient

from tests.eventually import eventually_async
from tests.integration.apps.triggers_support import harness

pytestmark = pytest.mark.integration
HOST_JSON = {"version": "2.0", "extensions": {"queues": {"maxDequeueCount": 3, "batchSize": 4,
                                                          "visibilityTimeout": "00:00:00"}}}


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def texts(client: QueueClient) -> list[str]:
    try:
        return [base64.b64decode(m.content).decode() for m in client.peek_messages(max_messages=32)]
    except ResourceNotFoundError:
        return []


@dataclass(frozen=True)
class Queues:
    settings: dict[str, str]
    work: QueueClient
    out: QueueClient
    poison: QueueClient


@pytest.fixture
def queues(storage_connection: str) -> Queues:
    """Fresh work/output queue names for the app's settings, and clients for them and the poison queue."""
    tag = uuid.uuid4().hex[:8]
    settings = {"TestStorage": storage_connection, "WORK_QUEUE": f"work{tag}", "OUT_QUEUE": f"out{tag}"}

    def client(name: str) -> QueueClient:
        return QueueClient.from_connection_string(storage_connection, name)

    return Queues(
        settings, client(settings["WORK_QUEUE"]), client(settings["OUT_QUEUE"]),
        client(settings["WORK_QUEUE"] + "-poison"),
    )


def test_queue_message_runs_the_function_with_a_real_queue_message_and_writes_the_output(
    queues: Queues, tmp_path: Path
) -> None:
    settings, work, out = queues.settings, queues.work, queues.out

    async def scenario() -> None:
        async with harness.running({"queue_worker"}, tmp_path, settings, HOST_JSON) as module:
            sent = work.send_message(b64("hello"))
            assert await eventually_async(lambda: texts(out), what="output message") == ["done:hello"]
            [(_, seen)] = module.EVENTS
            assert seen == {"body": "hello", "dequeue_count": 1, "id": sent.id}
            await eventually_async(lambda: not work.peek_messages(), what="trigger message deleted")

    asyncio.run(scenario())


def test_failing_message_is_retried_then_moved_to_the_poison_queue_after_max_dequeue_count(
    queues: Queues, tmp_path: Path
) -> None:
    settings, work, poison = queues.settings, queues.work, queues.poison

    async def scenario() -> None:
        async with harness.running({"queue_worker"}, tmp_path, settings, HOST_JSON) as module:
            work.send_message(b64("fail-me"))
            assert await eventually_async(lambda: texts(poison), what="poison message") == ["fail-me"]
            assert [e["dequeue_count"] for _, e in module.EVENTS] == [1, 2, 3]
            assert work.peek_messages() == []

    asyncio.run(scenario())


def test_message_that_is_not_base64_goes_to_poison_without_running(
    queues: Queues, tmp_path: Path
) -> None:
    settings, work, poison = queues.settings, queues.work, queues.poison

    async def scenario() -> None:
        async with harness.running({"queue_worker"}, tmp_path, settings, HOST_JSON) as module:
            work.send_message("not base64 at all!")
            await eventually_async(lambda: queue_exists(poison) and poison.peek_messages(), what="poison")
            assert module.EVENTS == []

    asyncio.run(scenario())


def queue_exists(client: QueueClient) -> bool:
    try:
        client.get_queue_properties()
        return True
    except ResourceNotFoundError:
        return False
