from __future__ import annotations

import asyncio
import base64
import uuid
from pathlib import Path

import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.storage.queue import QueueClient

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


def settings_for(connection: str) -> dict[str, str]:
    tag = uuid.uuid4().hex[:8]
    return {"TestStorage": connection, "WORK_QUEUE": f"work{tag}", "OUT_QUEUE": f"out{tag}"}


def test_queue_message_runs_the_function_with_a_real_queue_message_and_writes_the_output(
    storage_connection: str, tmp_path: Path
) -> None:
    settings = settings_for(storage_connection)
    work = QueueClient.from_connection_string(storage_connection, settings["WORK_QUEUE"])
    out = QueueClient.from_connection_string(storage_connection, settings["OUT_QUEUE"])

    async def scenario() -> None:
        async with harness.running({"queue_worker"}, tmp_path, settings, HOST_JSON) as module:
            sent = work.send_message(b64("hello"))
            assert await harness.wait_until(lambda: texts(out), what="output message") == ["done:hello"]
            [(_, seen)] = module.EVENTS
            assert seen == {"body": "hello", "dequeue_count": 1, "id": sent.id}
            await harness.wait_until(lambda: not work.peek_messages(), what="trigger message deleted")

    asyncio.run(scenario())


def test_failing_message_is_retried_then_moved_to_the_poison_queue_after_max_dequeue_count(
    storage_connection: str, tmp_path: Path
) -> None:
    settings = settings_for(storage_connection)
    work = QueueClient.from_connection_string(storage_connection, settings["WORK_QUEUE"])
    poison = QueueClient.from_connection_string(storage_connection, settings["WORK_QUEUE"] + "-poison")

    async def scenario() -> None:
        async with harness.running({"queue_worker"}, tmp_path, settings, HOST_JSON) as module:
            work.send_message(b64("fail-me"))
            assert await harness.wait_until(lambda: texts(poison), what="poison message") == ["fail-me"]
            assert [e["dequeue_count"] for _, e in module.EVENTS] == [1, 2, 3]
            assert work.peek_messages() == []

    asyncio.run(scenario())


def test_message_that_is_not_base64_goes_to_poison_without_running(
    storage_connection: str, tmp_path: Path
) -> None:
    settings = settings_for(storage_connection)
    work = QueueClient.from_connection_string(storage_connection, settings["WORK_QUEUE"])
    poison = QueueClient.from_connection_string(storage_connection, settings["WORK_QUEUE"] + "-poison")

    async def scenario() -> None:
        async with harness.running({"queue_worker"}, tmp_path, settings, HOST_JSON) as module:
            work.send_message("not base64 at all!")
            await harness.wait_until(lambda: queue_exists(poison) and poison.peek_messages(), what="poison")
            assert module.EVENTS == []

    asyncio.run(scenario())


def queue_exists(client: QueueClient) -> bool:
    try:
        client.get_queue_properties()
        return True
    except ResourceNotFoundError:
        return False
