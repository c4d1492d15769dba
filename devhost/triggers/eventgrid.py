"""Event Grid trigger fed by a storage account, as its system topic would feed it on Azure.

devhost has no Event Grid, so it plays the system topic and the subscription: it watches every container
of the account named by the subscription's `source` (new containers are picked up as they appear) with
the blob trigger's `BlobScanner`, and for each new blob version (by ETag) whose subject passes the
subscription filter it builds a `Microsoft.Storage.BlobCreated` event in the documented shape and invokes
the function with an `azure.functions.EventGridEvent`.

Delivery is at least once: one receipt per (subscription, blob, ETag) in `<state>/triggers.sqlite3`
(pending, then done or dead); a failed delivery is retried with exponential backoff
(`DEVHOST_EVENTGRID_RETRY_MS`, doubling, at most a minute) up to `retryPolicy.maxDeliveryAttempts`, then the
event is dead: logged with the event and the last error. Unlike Azure, a new subscription (a fresh state
folder) also delivers blobs that were there before it, as the blob trigger does; the receiver dedupes.
"""

from __future__ import annotations

import asyncio
import functools
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import azure.functions as func
from azure.storage.blob import BlobProperties
from azure.storage.blob.aio import BlobServiceClient

from devhost.listeners import FunctionObject
from devhost.triggers import signals
from devhost.triggers.blob_scan import BlobScanner, etag_text
from devhost.triggers.common import ListenerContext, TaskGroup, TriggerListener, one_line, wait_for_event
from devhost.triggers.connections import account_key, storage_connection
from devhost.triggers.eventgrid_config import BLOB_CREATED, EventGridSubscription, blob_subject
from devhost.triggers.outputs import prepare_outputs

RETRY_SETTING = "DEVHOST_EVENTGRID_RETRY_MS"
DEFAULT_RETRY_SECONDS = 1.0
MAX_RETRY_SECONDS = 60.0
CONTAINER_REFRESH_POLLS = 10  # the container list is read every this many poll intervals
# Up to this many containers are each polled at the blob poll interval; beyond it every container is polled
# proportionally less often, so the listings per second Azurite serves stay bounded however many exist.
CONTAINERS_AT_FULL_RATE = 8
NO_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"


def account_name(connection: str) -> str:
    parts = dict(p.split("=", 1) for p in connection.split(";") if "=" in p)
    return parts.get("AccountName") or "devstoreaccount1"


def blob_created_event(account: str, container: str, props: BlobProperties, url: str) -> func.EventGridEvent:
    """The event the account's system topic publishes for this blob version (`id` is stable per version,
    so a redelivery carries the same id, as on Azure)."""
    etag = etag_text(props.etag)
    created = props.last_modified or datetime.now(UTC)
    event_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{url}#{etag}"))
    blob_type = getattr(props.blob_type, "value", props.blob_type) or "BlockBlob"
    data: dict[str, object] = {
        "api": "PutBlob",
        "clientRequestId": event_id,
        "requestId": event_id,
        "eTag": f'"{etag}"',
        "contentType": props.content_settings.content_type or "application/octet-stream",
        "contentLength": int(props.size or 0),
        "blobType": str(blob_type),
        "url": url,
        "sequencer": f"{int(created.timestamp() * 1_000_000):032x}",
        "storageDiagnostics": {"batchId": "devhost"},
    }
    return func.EventGridEvent(
        id=event_id,
        data=data,
        topic=f"/subscriptions/{NO_SUBSCRIPTION}/resourceGroups/devhost/providers/"
        f"Microsoft.Storage/storageAccounts/{account}",
        subject=blob_subject(container, props.name),
        event_type=BLOB_CREATED,
        event_time=created,
        data_version="",
    )


def is_creation(props: BlobProperties) -> bool:
    """Whether this blob version was written by an upload (BlobCreated) rather than by a metadata or
    property change, which also gives a new ETag but raises no BlobCreated on Azure. Uploads and overwrites
    reset the creation time; property changes move only Last-Modified (both to the second)."""
    created, modified = props.creation_time, props.last_modified
    return created is None or modified is None or modified <= created


def retry_delay(settings: Mapping[str, str], attempts: int) -> float:
    """Exponential backoff after the `attempts`-th failed delivery."""
    raw = settings.get(RETRY_SETTING)
    base = float(raw) / 1000.0 if raw else DEFAULT_RETRY_SECONDS
    return float(min(MAX_RETRY_SECONDS, base * 2 ** max(0, attempts - 1)))


class EventGridTriggerListener(TriggerListener):
    def __init__(
        self, ctx: ListenerContext, function: FunctionObject, subscription: EventGridSubscription
    ) -> None:
        super().__init__(ctx, function, "eventGridTrigger")
        self.subscription = subscription
        self.filter = subscription.filter
        self.connection = storage_connection(ctx.services.settings, subscription.source, where=self.where)
        self.account = account_name(self.connection)
        self.receipt_key = f"{self.name}/{subscription.name}"
        self.max_attempts = subscription.retryPolicy.maxDeliveryAttempts
        self._scanners: dict[str, BlobScanner] = {}
        self._due: dict[str, float] = {}
        self._hints: set[tuple[str, str]] = set()
        self._inflight: set[tuple[str, str, str]] = set()
        self._unsubscribe: list[Callable[[], None]] = []
        self._wake = asyncio.Event()
        self._tasks = TaskGroup(ctx.services.log, f"event grid trigger {self.name}")
        self._limit = asyncio.Semaphore(ctx.extensions.blobs.maxDegreeOfParallelism)
        self._service: BlobServiceClient | None = None
        self._poller: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if not self.filter.accepts_type(BLOB_CREATED):
            self.ctx.services.log.warning(
                "event grid trigger %s: subscription %s excludes %s, the only event devhost produces",
                self.name, self.subscription.name, BLOB_CREATED,
            )
        self._service = BlobServiceClient.from_connection_string(self.connection)
        self._poller = asyncio.get_running_loop().create_task(self._poll_forever())
        self.ctx.services.log.info(
            "event grid trigger %s: subscription %s on account %s (%s*%s)", self.name,
            self.subscription.name, self.account, self.filter.subjectBeginsWith, self.filter.subjectEndsWith,
        )

    async def stop(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        await self.cancel_loop(self._poller)
        await self._tasks.drain(timeout=10.0)
        if self._service is not None:
            await self._service.close()

    async def _refresh_containers(self) -> None:
        assert self._service is not None
        loop = asyncio.get_running_loop()
        try:
            names = [c.name async for c in self._service.list_containers()]
        except Exception as exc:
            self.ctx.services.log.warning("event grid trigger %s: listing containers failed: %s",
                                          self.name, one_line(exc))
            return
        for name in names:
            if name in self._scanners or not self.filter.may_match_container(name):
                continue
            scanner = BlobScanner(
                self._service.get_container_client(name), "", self.ctx.tuning, self.ctx.services.log,
                f"event grid trigger {self.name} ({name})",
                functools.partial(self._consider, name),
            )
            scanner.known.update(self.ctx.state.settled_etags(self.receipt_key, name))
            self._scanners[name] = scanner
            self._due[name] = 0.0

            def hint(blob_name: str, container: str = name) -> None:
                loop.call_soon_threadsafe(self._add_hint, container, blob_name)

            self._unsubscribe.append(signals.subscribe("blob", account_key(self.connection), name, hint))

    def _add_hint(self, container: str, blob_name: str) -> None:
        self._hints.add((container, blob_name))
        self._wake.set()

    async def _poll_forever(self) -> None:
        refresh_every = self.ctx.tuning.blob_poll_interval * CONTAINER_REFRESH_POLLS
        next_refresh = 0.0
        while True:
            if time.monotonic() >= next_refresh:
                await self._refresh_containers()
                next_refresh = time.monotonic() + refresh_every
            if self._hints:
                hinted, self._hints = self._hints, set()
                for container, blob_name in hinted:
                    if container in self._scanners:
                        await self._scanners[container].check(blob_name)
            stretch = max(1.0, len(self._scanners) / CONTAINERS_AT_FULL_RATE)
            for container, scanner in self._scanners.items():
                now = time.monotonic()
                if self._due[container] <= now:
                    self._due[container] = now + (await scanner.step() - now) * stretch
            self._wake.clear()
            upcoming = min([next_refresh, *self._due.values()])
            await wait_for_event(self._wake, upcoming - time.monotonic())

    def _consider(self, container: str, props: BlobProperties) -> None:
        name, etag = props.name, etag_text(props.etag)
        if (container, name, etag) in self._inflight:
            return
        known = self._scanners[container].known
        if not is_creation(props) or not self.filter.matches(BLOB_CREATED, blob_subject(container, name)):
            known[name] = etag
            return
        receipt = self.ctx.state.receipt(self.receipt_key, container, name, etag)
        if receipt is not None and receipt.status != "pending":
            known[name] = etag
            return
        receipt = self.ctx.state.begin(self.receipt_key, container, name, etag)
        self._inflight.add((container, name, etag))
        self._tasks.spawn(self._deliver(container, props, receipt.attempts))

    async def _deliver(self, container: str, props: BlobProperties, attempts: int) -> None:
        assert self._service is not None
        name, etag = props.name, etag_text(props.etag)
        url = self._service.get_blob_client(container, name).url
        event = blob_created_event(self.account, container, props, url)
        try:
            async with self._limit:
                while attempts < self.max_attempts:
                    try:
                        await self._invoke(event)
                    except Exception as exc:
                        attempts = self.ctx.state.record_failure(
                            self.receipt_key, container, name, etag, one_line(exc)
                        )
                        self.ctx.services.log.warning(
                            "event grid trigger %s: event %s (%s) delivery %d/%d failed: %s",
                            self.name, event.id, event.subject, attempts, self.max_attempts, one_line(exc),
                        )
                        if attempts < self.max_attempts:
                            await asyncio.sleep(retry_delay(self.ctx.services.settings, attempts))
                        continue
                    self.ctx.state.settle(self.receipt_key, container, name, etag, "done")
                    self._scanners[container].known[name] = etag
                    return
                receipt = self.ctx.state.receipt(self.receipt_key, container, name, etag)
                self.ctx.services.log.error(
                    "event grid trigger %s: event %s dead after %d deliveries (subscription %s, %s %s, "
                    "eTag %s); last error: %s", self.name, event.id, attempts, self.subscription.name,
                    event.event_type, event.subject, etag, (receipt and receipt.last_error) or "unknown",
                )
                self.ctx.state.settle(self.receipt_key, container, name, etag, "dead")
                self._scanners[container].known[name] = etag
        finally:
            self._inflight.discard((container, name, etag))

    async def _invoke(self, event: func.EventGridEvent) -> None:
        data: dict[str, Any] = dict(event.get_json())
        outputs = prepare_outputs(
            self.function, self.ctx.services.settings, state_dir=self.ctx.services.state_dir,
            binding_data={**data, "Id": event.id, "Subject": event.subject, "EventType": event.event_type},
            queues=self.ctx.extensions.queues,
        )
        result = await self.ctx.services.invoke(self.function, {self.arg_name: event, **outputs.args})
        await outputs.flush(result)


