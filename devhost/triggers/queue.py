"""Queue trigger on Azure Storage queues (Azurite): batches, visibility timeout, dequeue count, poison queue.

Follows the host's QueueProcessor: fetch up to `batchSize` messages (hidden for 10 minutes while they run),
fetch the next batch once the running count drops to `newBatchThreshold`, back off exponentially up to
`maxPollingInterval` when the queue is empty, and after `maxDequeueCount` failed dequeues copy the message to
`<queue>-poison`. On failure the message becomes visible again after `visibilityTimeout`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
from typing import Any

from azure.core.exceptions import ResourceExistsError
from azure.functions.queue import QueueMessage
from azure.storage.queue import QueueMessage as StorageQueueMessage
from azure.storage.queue.aio import QueueClient

from devhost.listeners import FunctionObject
from devhost.triggers import signals
from devhost.triggers.common import ListenerContext, TaskGroup, TriggerListener, one_line, wait_for_event
from devhost.triggers.connections import account_key, storage_connection
from devhost.triggers.outputs import prepare_outputs

PROCESSING_VISIBILITY_S = 600


class UndecodableMessage(ValueError):
    pass


def decode_body(text: str, encoding: str) -> bytes:
    if encoding == "none":
        return text.encode("utf-8")
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise UndecodableMessage(
            "the message is not valid base64 (host.json extensions.queues.messageEncoding is 'base64')"
        ) from exc


class QueueTriggerListener(TriggerListener):
    def __init__(self, ctx: ListenerContext, function: FunctionObject) -> None:
        super().__init__(ctx, function, "queueTrigger")
        self.queue_name = self.binding_setting("queueName").lower()
        if not self.queue_name:
            raise ValueError(f"{self.where}: queueName is required")
        self.connection = storage_connection(
            ctx.services.settings, self.binding.get("connection"), where=self.where
        )
        options = ctx.extensions.queues
        self.options = options
        self.batch_size = options.batchSize
        self.threshold = options.newBatchThreshold if options.newBatchThreshold is not None \
            else max(1, self.batch_size // 2)
        self._wake = asyncio.Event()
        self._tasks = TaskGroup(ctx.services.log, f"queue trigger {self.name}")
        self._client: QueueClient | None = None
        self._poller: asyncio.Task[None] | None = None
        self._unsubscribe = lambda: None

    async def start(self) -> None:
        self._client = QueueClient.from_connection_string(self.connection, self.queue_name)
        with contextlib.suppress(ResourceExistsError):
            await self._client.create_queue()
        loop = asyncio.get_running_loop()
        self._unsubscribe = signals.subscribe(
            "queue", account_key(self.connection), self.queue_name,
            lambda _detail: loop.call_soon_threadsafe(self._wake.set),
        )
        self._poller = loop.create_task(self._poll_forever())
        self.ctx.services.log.info("queue trigger %s: watching queue %s", self.name, self.queue_name)

    async def stop(self) -> None:
        self._unsubscribe()
        await self.cancel_loop(self._poller)
        await self._tasks.drain(timeout=10.0)
        if self._client is not None:
            await self._client.close()

    async def _poll_forever(self) -> None:
        assert self._client is not None
        delay = self.ctx.tuning.queue_min_poll_interval
        longest = max(delay, self.options.maxPollingInterval.total_seconds())
        while True:
            while len(self._tasks) > self.threshold:
                await asyncio.sleep(0.01)
            want = self.batch_size - len(self._tasks)
            self._wake.clear()
            try:
                messages = [
                    m async for m in self._client.receive_messages(
                        messages_per_page=want, visibility_timeout=PROCESSING_VISIBILITY_S, max_messages=want
                    )
                ]
            except Exception as exc:
                self.ctx.services.log.warning(
                    "queue trigger %s: receive failed: %s", self.name, one_line(exc)
                )
                messages = []
            if messages:
                delay = self.ctx.tuning.queue_min_poll_interval
                for message in messages:
                    self._tasks.spawn(self._process(message))
                continue
            if await wait_for_event(self._wake, delay):
                delay = self.ctx.tuning.queue_min_poll_interval
            else:
                delay = min(longest, delay * 2)

    async def _process(self, message: StorageQueueMessage) -> None:
        assert self._client is not None
        max_count = self.options.maxDequeueCount
        count = int(message.dequeue_count or 1)
        if count > max_count:
            await self._poison(message, f"dequeued {count} times (maxDequeueCount {max_count})")
            return
        try:
            await self._invoke(message)
        except UndecodableMessage as exc:
            self.ctx.services.log.warning("queue trigger %s: message %s: %s", self.name, message.id, exc)
            await self._poison(message, str(exc))
            return
        except Exception as exc:
            self.ctx.services.log.warning(
                "queue trigger %s: message %s attempt %d/%d failed: %s",
                self.name, message.id, count, max_count, one_line(exc),
            )
            try:
                if count >= max_count:
                    await self._poison(message, one_line(exc))
                else:
                    await self._client.update_message(
                        message.id, message.pop_receipt,
                        visibility_timeout=int(self.options.visibilityTimeout.total_seconds()),
                    )
            except Exception as settle_exc:
                self.ctx.services.log.warning(
                    "queue trigger %s: message %s could not be released: %s",
                    self.name, message.id, one_line(settle_exc),
                )
            return
        try:
            await self._client.delete_message(message.id, message.pop_receipt)
        except Exception as exc:
            self.ctx.services.log.warning(
                "queue trigger %s: message %s ran but could not be deleted: %s",
                self.name, message.id, one_line(exc),
            )

    async def _invoke(self, message: StorageQueueMessage) -> None:
        body = decode_body(str(message.content or ""), self.options.messageEncoding)
        trigger = QueueMessage(
            id=message.id,
            body=body,
            dequeue_count=message.dequeue_count,
            expiration_time=message.expires_on,
            insertion_time=message.inserted_on,
            time_next_visible=message.next_visible_on,
            pop_receipt=message.pop_receipt,
        )
        text = body.decode("utf-8", errors="replace")
        binding_data: dict[str, Any] = {
            "QueueTrigger": text, "Id": message.id, "DequeueCount": message.dequeue_count,
            "InsertionTime": message.inserted_on, "ExpirationTime": message.expires_on,
            "NextVisibleTime": message.next_visible_on, "PopReceipt": message.pop_receipt,
        }
        with contextlib.suppress(ValueError):
            parsed = json.loads(text)
            if isinstance(parsed, dict):
                binding_data = {**parsed, **binding_data}
        outputs = prepare_outputs(
            self.function, self.ctx.services.settings, state_dir=self.ctx.services.state_dir,
            binding_data=binding_data, queues=self.options,
        )
        result = await self.ctx.services.invoke(self.function, {self.arg_name: trigger, **outputs.args})
        await outputs.flush(result)

    async def _poison(self, message: StorageQueueMessage, reason: str) -> None:
        assert self._client is not None
        poison_name = f"{self.queue_name}-poison"
        async with QueueClient.from_connection_string(self.connection, poison_name) as poison:
            with contextlib.suppress(ResourceExistsError):
                await poison.create_queue()
            await poison.send_message(str(message.content or ""))
        await self._client.delete_message(message.id, message.pop_receipt)
        signals.notify("queue", account_key(self.connection), poison_name)
        self.ctx.services.log.error(
            "queue trigger %s: message %s moved to %s: %s", self.name, message.id, poison_name, reason
        )
