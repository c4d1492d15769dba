"""Blob trigger: each new or changed blob (by ETag) under a path pattern fires the function once.

New and changed blobs are found by `BlobScanner` (tail probe plus paced sweep, untouched blobs cost a dict
lookup). Blobs devhost writes itself (output bindings) are checked at once. Receipts are durable
(TriggerState), so a settled blob version never fires again after a restart. Retries follow
`extensions.queues.maxDequeueCount` (5); then a message goes to `webjobs-blobtrigger-poison`.
Details: docs/devhost-triggers.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.functions.blob import InputStream
from azure.storage.blob.aio import BlobServiceClient, ContainerClient
from azure.storage.queue.aio import QueueClient

from devhost.listeners import FunctionObject
from devhost.triggers import signals
from devhost.triggers.blob_scan import BlobScanner, etag_text
from devhost.triggers.common import ListenerContext, TaskGroup, TriggerListener, one_line, wait_for_event
from devhost.triggers.connections import account_key, storage_connection
from devhost.triggers.expressions import BlobPathPattern, parse_blob_path
from devhost.triggers.outputs import encode_queue_message, prepare_outputs

POISON_QUEUE = "webjobs-blobtrigger-poison"
_etag = etag_text


class BlobTriggerListener(TriggerListener):
    def __init__(self, ctx: ListenerContext, function: FunctionObject) -> None:
        super().__init__(ctx, function, "blobTrigger")
        path = self.binding_setting("path")
        self.pattern: BlobPathPattern = parse_blob_path(path, where=self.where)
        self.connection = storage_connection(
            ctx.services.settings, self.binding.get("connection"), where=self.where
        )
        self.max_attempts = ctx.extensions.queues.maxDequeueCount
        self._inflight: set[tuple[str, str]] = set()
        self._hints: set[str] = set()
        self._wake = asyncio.Event()
        self._tasks = TaskGroup(ctx.services.log, f"blob trigger {self.name}")
        self._limit = asyncio.Semaphore(ctx.extensions.blobs.maxDegreeOfParallelism)
        self._service: BlobServiceClient | None = None
        self._container: ContainerClient | None = None
        self._scanner: BlobScanner | None = None
        self._poller: asyncio.Task[None] | None = None
        self._unsubscribe = lambda: None

    @property
    def _known(self) -> dict[str, str]:
        assert self._scanner is not None
        return self._scanner.known

    async def start(self) -> None:
        self._service = BlobServiceClient.from_connection_string(self.connection)
        self._container = self._service.get_container_client(self.pattern.container)
        self._scanner = BlobScanner(
            self._container, self.pattern.prefix, self.ctx.tuning, self.ctx.services.log,
            f"blob trigger {self.name}", lambda props: self._consider(props.name, _etag(props.etag)),
        )
        self._scanner.known.update(self.ctx.state.settled_etags(self.name, self.pattern.container))
        loop = asyncio.get_running_loop()

        def hint(blob_name: str) -> None:
            loop.call_soon_threadsafe(self._add_hint, blob_name)

        self._unsubscribe = signals.subscribe(
            "blob", account_key(self.connection), self.pattern.container, hint
        )
        self._poller = loop.create_task(self._poll_forever())
        self.ctx.services.log.info(
            "blob trigger %s: watching %s/%s", self.name, self.pattern.container, self.pattern.blob_pattern
        )

    async def stop(self) -> None:
        self._unsubscribe()
        await self.cancel_loop(self._poller)
        await self._tasks.drain(timeout=10.0)
        if self._service is not None:
            await self._service.close()

    def _add_hint(self, blob_name: str) -> None:
        self._hints.add(blob_name)
        self._wake.set()

    async def _poll_forever(self) -> None:
        assert self._scanner is not None
        while True:
            if self._hints:
                hinted, self._hints = self._hints, set()
                for blob_name in hinted:
                    if self.pattern.match(blob_name) is not None:
                        await self._scanner.check(blob_name)
            due = await self._scanner.step()
            self._wake.clear()
            await wait_for_event(self._wake, due - time.monotonic())

    def _consider(self, blob_name: str, etag: str) -> None:
        if self._known.get(blob_name) == etag or (blob_name, etag) in self._inflight:
            return
        captures = self.pattern.match(blob_name)
        if captures is None:
            return
        container = self.pattern.container
        receipt = self.ctx.state.receipt(self.name, container, blob_name, etag)
        if receipt is not None and receipt.status != "pending":
            self._known[blob_name] = etag
            return
        receipt = self.ctx.state.begin(self.name, container, blob_name, etag)
        self._inflight.add((blob_name, etag))
        self._tasks.spawn(self._process(blob_name, etag, captures, receipt.attempts))

    async def _process(self, blob_name: str, etag: str, captures: dict[str, str], attempts: int) -> None:
        container = self.pattern.container
        try:
            async with self._limit:
                if attempts >= self.max_attempts:  # failed out before a restart, poison not yet written
                    receipt = self.ctx.state.receipt(self.name, container, blob_name, etag)
                    last_error = (receipt and receipt.last_error) or "unknown"
                    await self._poison(blob_name, etag, attempts, last_error)
                    self.ctx.state.settle(self.name, container, blob_name, etag, "poisoned")
                    self._known[blob_name] = etag
                    return
                while True:
                    try:
                        outcome = await self._invoke_once(blob_name, etag, captures)
                    except Exception as exc:
                        attempts = self.ctx.state.record_failure(
                            self.name, container, blob_name, etag, one_line(exc)
                        )
                        self.ctx.services.log.warning(
                            "blob trigger %s: %s/%s attempt %d/%d failed: %s",
                            self.name, container, blob_name, attempts, self.max_attempts, one_line(exc),
                        )
                        if attempts >= self.max_attempts:
                            await self._poison(blob_name, etag, attempts, one_line(exc))
                            self.ctx.state.settle(self.name, container, blob_name, etag, "poisoned")
                            self._known[blob_name] = etag
                            return
                        await asyncio.sleep(
                            max(self.ctx.tuning.blob_retry_delay,
                                self.ctx.extensions.queues.visibilityTimeout.total_seconds())
                        )
                        continue
                    self.ctx.state.settle(self.name, container, blob_name, etag, outcome)
                    self._known[blob_name] = etag
                    return
        finally:
            self._inflight.discard((blob_name, etag))

    async def _invoke_once(self, blob_name: str, etag: str, captures: dict[str, str]) -> str:
        assert self._container is not None
        client = self._container.get_blob_client(blob_name)
        try:
            download = await client.download_blob()
        except ResourceNotFoundError:
            return "done"  # deleted before it could run: nothing left to deliver
        props = download.properties
        if _etag(props.etag) != etag:
            return "done"  # superseded: the newer version has its own receipt and fires on its own
        data = await download.readall()
        path = f"{self.pattern.container}/{blob_name}"
        stream = InputStream(
            data=data,
            name=path,
            uri=client.url,
            length=props.size,
            blob_properties={
                "ContentLength": props.size,
                "ETag": props.etag,
                "ContentType": props.content_settings.content_type,
                "LastModified": props.last_modified.isoformat() if props.last_modified else None,
            },
            metadata=dict(props.metadata or {}),
        )
        binding_data: dict[str, Any] = {**captures, "BlobTrigger": path, "Uri": client.url,
                                        "Metadata": dict(props.metadata or {})}
        outputs = prepare_outputs(
            self.function, self.ctx.services.settings, state_dir=self.ctx.services.state_dir,
            binding_data=binding_data, queues=self.ctx.extensions.queues,
        )
        result = await self.ctx.services.invoke(self.function, {self.arg_name: stream, **outputs.args})
        await outputs.flush(result)
        return "done"

    async def _poison(self, blob_name: str, etag: str, attempts: int, reason: str) -> None:
        message = {
            "Type": "BlobTrigger",
            "FunctionId": f"Host.Functions.{self.name}",
            "BlobType": "BlockBlob",
            "ContainerName": self.pattern.container,
            "BlobName": blob_name,
            "ETag": f'"{etag}"',
            "Attempts": attempts,
            "Reason": f"the function failed {attempts} times; last error: {reason}",
        }
        try:
            async with QueueClient.from_connection_string(self.connection, POISON_QUEUE) as queue:
                with contextlib.suppress(ResourceExistsError):
                    await queue.create_queue()
                body = encode_queue_message(json.dumps(message), self.ctx.extensions.queues)
                await queue.send_message(body)
        except Exception as exc:
            self.ctx.services.log.error(
                "blob trigger %s: could not write to %s: %s", self.name, POISON_QUEUE, one_line(exc)
            )
            return
        signals.notify("queue", account_key(self.connection), POISON_QUEUE)
        self.ctx.services.log.error(
            "blob trigger %s: %s/%s moved to %s after %d attempts",
            self.name, self.pattern.container, blob_name, POISON_QUEUE, attempts,
        )
