from __future__ import annotations

import asyncio
import base64
import json
import uuid
from pathlib import Path

import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob import BlobServiceClient
from azure.storage.queue import QueueClient

from tests.eventually import eventually_async
from tests.integration.apps.triggers_support import harness

pytestmark = pytest.mark.integration


def settings_for(connection: str) -> dict[str, str]:
    tag = uuid.uuid4().hex[:8]
    return {"TestStorage": connection, "IN_CONTAINER": f"in{tag}", "OUT_CONTAINER": f"out{tag}",
            "FAIL_CONTAINER": f"fail{tag}"}


def test_uploaded_blob_runs_the_function_and_writes_the_output_blob(
    storage_connection: str, tmp_path: Path
) -> None:
    settings = settings_for(storage_connection)
    blobs = BlobServiceClient.from_connection_string(storage_connection)
    incoming = blobs.create_container(settings["IN_CONTAINER"])

    async def scenario() -> None:
        async with harness.running({"blob_copy"}, tmp_path, settings) as module:
            incoming.upload_blob("report.v1.csv", b"a,b\n1,2\n")
            out = blobs.get_blob_client(settings["OUT_CONTAINER"], "report.v1-copy.csv")
            await eventually_async(out.exists, what="output blob")
            assert out.download_blob().readall() == b"A,B\n1,2\n"
            [(_, seen)] = module.EVENTS
            assert seen["name"] == f"{settings['IN_CONTAINER']}/report.v1.csv"
            assert seen["length"] == 8
            assert seen["uri"].endswith(f"/{settings['IN_CONTAINER']}/report.v1.csv")

    asyncio.run(scenario())


def test_a_blob_version_fires_once_across_a_listener_restart_and_again_when_changed(
    storage_connection: str, tmp_path: Path
) -> None:
    settings = settings_for(storage_connection)
    blobs = BlobServiceClient.from_connection_string(storage_connection)
    incoming = blobs.create_container(settings["IN_CONTAINER"])

    async def scenario() -> None:
        async with harness.running({"blob_copy"}, tmp_path, settings) as first:
            incoming.upload_blob("data.txt", b"one")
            await eventually_async(lambda: first.EVENTS, what="first run")

        async with harness.running({"blob_copy"}, tmp_path, settings) as second:
            await asyncio.sleep(0.6)  # a dozen polls of the unchanged container
            assert second.EVENTS == []
            incoming.upload_blob("data.txt", b"two", overwrite=True)
            await eventually_async(lambda: second.EVENTS, what="run for the changed blob")
            await asyncio.sleep(0.3)
            assert len(second.EVENTS) == 1 and len(first.EVENTS) == 1

    asyncio.run(scenario())


def test_blob_whose_function_always_fails_lands_in_the_poison_queue(
    storage_connection: str, tmp_path: Path
) -> None:
    settings = settings_for(storage_connection)
    blobs = BlobServiceClient.from_connection_string(storage_connection)
    failing = blobs.create_container(settings["FAIL_CONTAINER"])
    poison = QueueClient.from_connection_string(storage_connection, "webjobs-blobtrigger-poison")

    def poison_for_this_test() -> list[dict[str, object]]:
        found = []
        try:
            messages = poison.peek_messages(max_messages=32)
        except ResourceNotFoundError:
            return []
        for msg in messages:
            body = json.loads(base64.b64decode(msg.content))
            if body["ContainerName"] == settings["FAIL_CONTAINER"]:
                found.append(body)
        return found

    async def scenario() -> None:
        async with harness.running({"blob_always_fails"}, tmp_path, settings) as module:
            failing.upload_blob("bad.bin", b"\x00")
            [message] = await eventually_async(poison_for_this_test, what="poison message")
            assert message["BlobName"] == "bad.bin"
            assert message["FunctionId"] == "Host.Functions.blob_always_fails"
            assert "RuntimeError: cannot handle" in str(message["Reason"])
            assert message["Attempts"] == 5
            assert len(module.EVENTS) == 5
            await asyncio.sleep(0.3)
            assert len(module.EVENTS) == 5  # settled: no sixth attempt

    asyncio.run(scenario())
