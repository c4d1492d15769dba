"""devhost's Event Grid listener over a real Azurite: events in the documented BlobCreated shape for every
container a subscription's filter admits, at least once, retried and then dead."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from azure.storage.blob import BlobServiceClient

from devhost.listeners import HostServices
from tests.eventually import eventually_async
from tests.integration.apps.triggers_support import harness

pytestmark = pytest.mark.integration
APP = Path(__file__).resolve().parent / "apps" / "eventgrid_app"


def subscription(name: str, function: str, **filters: Any) -> dict[str, Any]:
    return {
        "name": name,
        "function": function,
        "source": "TestStorage",
        "filter": filters,
        "retryPolicy": {"maxDeliveryAttempts": 3},
    }


@asynccontextmanager
async def running(
    state: Path,
    connection: str,
    subscriptions: list[dict[str, Any]],
    names: set[str],
    log: logging.Logger | None = None,
) -> AsyncIterator[ModuleType]:
    config = state / "eventgrid.config.json"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(json.dumps({"subscriptions": subscriptions}))
    module, functions = harness.load_app(APP)
    services = HostServices(
        app_dir=APP,
        state_dir=state / "devhost",
        settings={
            "TestStorage": connection,
            "DEVHOST_EVENTGRID_CONFIG": str(config),
            "DEVHOST_EVENTGRID_RETRY_MS": "20",
        },
        host_json={"version": "2.0"},
        invoke=harness.direct_invoke,
        log=log or logging.getLogger("devhost.test"),
    )
    listeners = await harness.start(services, functions, names)
    try:
        yield module
    finally:
        await harness.stop(listeners)


def test_blob_created_events_reach_the_function_for_the_containers_the_filter_admits(
    storage_connection: str, tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex[:8]
    blobs = BlobServiceClient.from_connection_string(storage_connection)
    landing, other = blobs.create_container(f"land{tag}"), blobs.create_container(f"other{tag}")
    subs = [
        subscription(
            "csv",
            "on_blob_event",
            subjectBeginsWith=f"/blobServices/default/containers/land{tag}/",
            subjectEndsWith=".CSV",
            includedEventTypes=["Microsoft.Storage.BlobCreated"],
        )
    ]

    async def scenario() -> None:
        async with running(tmp_path, storage_connection, subs, {"on_blob_event"}) as module:
            other.upload_blob("a.csv", b"not watched")
            landing.upload_blob("notes.txt", b"filtered out")
            result = landing.upload_blob("day/one.csv", b"a,b\n")
            [(_, seen)] = await eventually_async(lambda: module.EVENTS, what="the event")
            await asyncio.sleep(0.5)  # many polls: nothing else may arrive
            assert len(module.EVENTS) == 1
        etag = str(result.get_blob_properties().etag).strip('"')
        assert seen["subject"] == f"/blobServices/default/containers/land{tag}/blobs/day/one.csv"
        assert seen["event_type"] == "Microsoft.Storage.BlobCreated"
        assert seen["topic"].endswith("/providers/Microsoft.Storage/storageAccounts/devstoreaccount1")
        data = seen["data"]
        assert data["url"] == landing.get_blob_client("day/one.csv").url
        assert data["eTag"].strip('"') == etag
        assert data["contentLength"] == 4 and data["blobType"] == "BlockBlob"
        assert seen["event_time"] is not None

        async def after_restart() -> None:
            async with running(tmp_path, storage_connection, subs, {"on_blob_event"}) as again:
                await asyncio.sleep(0.5)
                assert again.EVENTS == []  # delivered once: the receipt survives the restart
                landing.get_blob_client("day/one.csv").set_blob_metadata({"checked": "yes"})
                await asyncio.sleep(0.5)
                assert again.EVENTS == []  # a metadata-only change is no BlobCreated
                landing.upload_blob("day/one.csv", b"a,b\n1,2\n", overwrite=True)
                [(_, newer)] = await eventually_async(lambda: again.EVENTS, what="the new version")
                assert newer["data"]["eTag"] != data["eTag"] and newer["id"] != seen["id"]

        await after_restart()

    asyncio.run(scenario())


def test_new_containers_are_watched_and_a_failing_event_is_retried_then_logged_dead(
    storage_connection: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    tag = uuid.uuid4().hex[:8]
    blobs = BlobServiceClient.from_connection_string(storage_connection)
    subs = [
        subscription("all", "always_fails", subjectBeginsWith=f"/blobServices/default/containers/late{tag}")
    ]

    async def scenario() -> None:
        async with running(tmp_path, storage_connection, subs, {"always_fails"}) as module:
            await asyncio.sleep(0.3)
            late = blobs.create_container(f"late{tag}")  # created after the listener started
            late.upload_blob("x.bin", b"\x00")
            await eventually_async(lambda: "dead after 3 deliveries" in caplog.text, what="the dead event")
            assert [name for name, _ in module.EVENTS] == ["always_fails"] * 3
            assert len({seen["id"] for _, seen in module.EVENTS}) == 1  # one event, redelivered
            await asyncio.sleep(0.3)
            assert len(module.EVENTS) == 3

    with caplog.at_level(logging.WARNING, logger="devhost.test"):
        asyncio.run(scenario())
    assert "RuntimeError: cannot handle" in caplog.text
