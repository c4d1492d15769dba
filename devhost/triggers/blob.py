"""Blob trigger: each new or changed blob (by ETag) under a path pattern fires the function once.

Azurite offers no change feed and container properties do not change on blob writes, so detection polls,
with a bounded cost per poll: a tail probe lists only names after the greatest one seen (new uploads with
dated or numbered names), and a rotating sweep lists one page of the whole prefix per turn, paced by its own
cost, for changes anywhere. Untouched blobs cost a dict lookup (known ETags), no request. Blobs devhost
writes itself (output bindings) are checked at once. Receipts are durable (TriggerState), so a settled
blob version never fires again after a restart. Retries follow `extensions.queues.maxDequeueCount` (5);
then a message goes to `webjobs-blobtrigger-poison`. Details: docs/devhost-triggers.md.
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
from devhost.triggers.common import ListenerContext, TaskGroup, TriggerListener, one_line, wait_for_event
from devhost.triggers.connections import account_key, storage_connection
from devhost.triggers.expressions import BlobPathPattern, parse_blob_path
from devhost.triggers.outputs import encode_queue_message, prepare_outputs

POISON_QUEUE = "webjobs-blobtrigger-poison"
# Sweep pacing by what a page returned: one poll interval per this many blobs listed (the emulator's cost
# grows with the entries it returns). A big container is swept at about 500 blobs per second, keeping the
# (single-threaded) emulator free most of the time; up to this many blobs are swept every interval.
SWEEP_ENTRIES_PER_INTERVAL = 50


def _etag(value: str | None) -> str:
    return (value or "").strip('"')


class BlobTriggerListener(TriggerListener):
    def __init__(self, ctx: ListenerContext, function: FunctionObject) -> None:
        super().__init__(ctx, function, "blobTrigger")
        path = self.binding_setting("path")
        self.pattern: BlobPathPattern = parse_blob_path(path, where=self.where)
        self.connection = storage_connection(
            ctx.services.settings, self.binding.get("connection"), where=self.where
        )
        self.max_attempts = ctx.extensions.queues.maxDequeueCount
        self._known: dict[str, str] = {}
        self._inflight: set[tuple[str, str]] = set()
        self._marker: str | None = None
        self._tail: str | None = None
        self._probe_enabled = True
        self._sweep_seen: set[str] = set()
        self._hints: set[str] = set()
        self._wake = asyncio.Event()
        self._tasks = TaskGroup(ctx.services.log, f"blob trigger {self.name}")
        self._limit = asyncio.Semaphore(ctx.extensions.blobs.maxDegreeOfParallelism)
        self._service: BlobServiceClient | None = None
        self._container: ContainerClient | None = None
        self._poller: asyncio.Task[None] | None = None
        self._unsubscribe = lambda: None
        self._missing_logged = False

    async def start(self) -> None:
        self._service = BlobServiceClient.from_connection_string(self.connection)
        self._container = self._service.get_container_client(self.pattern.container)
        self._known = self.ctx.state.settled_etags(self.name, self.pattern.container)
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
        interval = self.ctx.tuning.blob_poll_interval
        next_probe = next_sweep = 0.0
        while True:
            if self._hints:
                hinted, self._hints = self._hints, set()
                for blob_name in hinted:
                    await self._check_one(blob_name)
            now = time.monotonic()
            try:
                if now >= next_sweep:
                    listed = await self._sweep_page()
                    took = time.monotonic() - now
                    pace = interval * max(1.0, listed / SWEEP_ENTRIES_PER_INTERVAL)
                    next_sweep = time.monotonic() + max(pace, took)
                    next_probe = now + interval
                elif now >= next_probe:
                    await self._probe_tail()
                    next_probe = now + interval
            except Exception as exc:  # a storage hiccup must not end the listener
                self.ctx.services.log.warning("blob trigger %s: listing failed: %s", self.name, one_line(exc))
                next_probe = next_sweep = time.monotonic() + interval
            self._wake.clear()
            await wait_for_event(self._wake, min(next_probe, next_sweep) - time.monotonic())

    async def _list_page(self, marker: str | None) -> tuple[list[tuple[str, str]], str | None]:
        """One page of (name, ETag) after `marker`; an absent container is an empty one."""
        assert self._container is not None
        pager = self._container.list_blobs(
            name_starts_with=self.pattern.prefix or None, results_per_page=self.ctx.tuning.blob_page_size
        ).by_page(continuation_token=marker)
        found: list[tuple[str, str]] = []
        try:
            async for page in pager:
                found = [(blob.name, _etag(blob.etag)) async for blob in page]
                break
        except ResourceNotFoundError:
            if not self._missing_logged:
                self.ctx.services.log.info(
                    "blob trigger %s: container %s does not exist yet", self.name, self.pattern.container
                )
                self._missing_logged = True
            return [], None
        return found, pager.continuation_token  # type: ignore[attr-defined]

    def _see(self, listed: list[tuple[str, str]]) -> None:
        for blob_name, etag in listed:
            if self._tail is None or blob_name > self._tail:
                self._tail = blob_name
            self._consider(blob_name, etag)

    async def _sweep_page(self) -> int:
        """The next page of the rotating sweep over the whole prefix (finds changes anywhere); returns how
        many blobs it listed."""
        listed, self._marker = await self._list_page(self._marker)
        self._sweep_seen.update(name for name, _ in listed)
        self._see(listed)
        if not self._marker:
            for gone in set(self._known) - self._sweep_seen:
                del self._known[gone]
            self._sweep_seen = set()
        return len(listed)

    async def _probe_tail(self) -> None:
        """Blobs whose names sort after the last name seen (the usual shape of new uploads: dated or
        numbered names), listed from that name as the marker: a short answer however big the container."""
        if self._tail is None or not self._probe_enabled:
            return
        try:
            listed, _ = await self._list_page(self._tail)
        except Exception as exc:  # a service that only takes opaque markers: rely on the sweep alone
            self._probe_enabled = False
            self.ctx.services.log.info("blob trigger %s: tail probe disabled: %s", self.name, one_line(exc))
            return
        self._see(listed)

    async def _check_one(self, blob_name: str) -> None:
        assert self._container is not None
        if self.pattern.match(blob_name) is None:
            return
        try:
            props = await self._container.get_blob_client(blob_name).get_blob_properties()
        except ResourceNotFoundError:
            return
        except Exception as exc:
            self.ctx.services.log.warning("blob trigger %s: %s: %s", self.name, blob_name, one_line(exc))
            return
        self._consider(blob_name, _etag(props.etag))

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
