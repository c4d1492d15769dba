"""The whole devhost (`serve`: engine, HTTP, listeners) driven by a blob upload."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from azure.storage.blob import BlobServiceClient

from devhost.ports import free_port
from tests.eventually import eventually_async

pytestmark = pytest.mark.integration
APP = Path(__file__).resolve().parent / "apps" / "triggers_durable"


def test_upload_starts_an_orchestration_that_writes_the_output_blob_once_across_a_host_restart(
    storage_connection: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    serve = pytest.importorskip("devhost.serve").serve
    tag = uuid.uuid4().hex[:8]
    monkeypatch.setenv("AzureWebJobsStorage", storage_connection)
    monkeypatch.setenv("E2E_IN", f"e2ein{tag}")
    monkeypatch.setenv("E2E_OUT", f"e2eout{tag}")
    monkeypatch.setenv("DEVHOST_BLOB_POLL_MS", "50")
    blobs = BlobServiceClient.from_connection_string(storage_connection)
    incoming = blobs.create_container(f"e2ein{tag}")
    blobs.create_container(f"e2eout{tag}")
    output = blobs.get_blob_client(f"e2eout{tag}", "order-1.out")

    async def run_host(action: object) -> None:
        stop = asyncio.Event()
        ready = asyncio.Event()
        host = asyncio.create_task(
            serve(APP, port=free_port(), state_dir=tmp_path, stop=stop, on_ready=lambda _h: ready.set())
        )
        await asyncio.wait_for(ready.wait(), 60)
        try:
            await action()  # type: ignore[operator]
        finally:
            stop.set()
            assert await asyncio.wait_for(host, 60) == 0

    async def first_run() -> None:
        incoming.upload_blob("order-1.txt", b"two widgets")
        await eventually_async(output.exists, timeout=30, what="the orchestration to write the output blob")

    asyncio.run(run_host(first_run))
    assert output.download_blob().readall() == b"TWO WIDGETS"
    written = output.get_blob_properties().etag

    async def second_run() -> None:
        await asyncio.sleep(1.5)  # many polls: the settled blob version must not fire again

    asyncio.run(run_host(second_run))
    assert output.get_blob_properties().etag == written
