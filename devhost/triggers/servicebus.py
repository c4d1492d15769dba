"""Service Bus trigger (queues and topic subscriptions) served from the local transport.

Like the host with `autoCompleteMessages` (the default): a message is locked (peek-lock), its lock renewed
while the function runs (up to `maxAutoLockRenewalDuration`), completed on success and abandoned on failure;
the transport dead-letters it once its delivery count reaches the entity's max delivery count.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

from azure.functions.servicebus import ServiceBusMessage

from devhost.listeners import FunctionObject
from devhost.triggers.common import ListenerContext, TaskGroup, TriggerListener, one_line, wait_for_event
from devhost.triggers.outputs import prepare_outputs
from localbus import LocalServiceBus, LockLost, StoredMessage, subscription_path


def to_function_message(msg: StoredMessage) -> ServiceBusMessage:
    metadata = {
        "MessageId": msg.message_id, "DeliveryCount": msg.delivery_count,
        "CorrelationId": msg.correlation_id, "ContentType": msg.content_type,
        "SequenceNumber": msg.sequence_number, "EnqueuedTimeUtc": msg.enqueued_time_utc.isoformat(),
        "LockToken": msg.lock_token, "ApplicationProperties": msg.application_properties,
        "UserProperties": msg.application_properties, "Subject": msg.subject, "Label": msg.subject,
    }
    return ServiceBusMessage(
        body=msg.body,
        trigger_metadata=metadata,
        application_properties=dict(msg.application_properties),
        content_type=msg.content_type,
        correlation_id=msg.correlation_id,
        delivery_count=msg.delivery_count,
        enqueued_sequence_number=msg.sequence_number,
        enqueued_time_utc=msg.enqueued_time_utc,
        expires_at_utc=msg.expires_at_utc,
        label=msg.subject,
        locked_until=msg.locked_until_utc,
        lock_token=msg.lock_token,
        message_id=msg.message_id,
        partition_key=msg.partition_key,
        reply_to=msg.reply_to,
        scheduled_enqueue_time_utc=msg.scheduled_enqueue_time_utc,
        sequence_number=msg.sequence_number,
        session_id=msg.session_id,
        subject=msg.subject,
        time_to_live=msg.time_to_live,
        to=msg.to,
        user_properties=dict(msg.application_properties),
    )


class ServiceBusTriggerListener(TriggerListener):
    def __init__(self, ctx: ListenerContext, function: FunctionObject, bus: LocalServiceBus) -> None:
        super().__init__(ctx, function, "serviceBusTrigger")
        self.bus = bus
        if self.binding.get("topicName"):
            self.entity = self.binding_setting("topicName")
            self.subscription: str | None = self.binding_setting("subscriptionName")
            if not self.subscription:
                raise ValueError(f"{self.where}: subscriptionName is required with topicName")
        else:
            self.entity = self.binding_setting("queueName")
            self.subscription = None
            if not self.entity:
                raise ValueError(f"{self.where}: queueName or topicName is required")
        if self.binding.get("isSessionsEnabled"):
            ctx.services.log.warning("function %s: sessions are not supported locally; "
                                     "messages are delivered without session ordering", self.name)
        self.many = str(self.binding.get("cardinality") or "one").lower() == "many"
        self.options = ctx.extensions.serviceBus
        self.path = subscription_path(self.entity, self.subscription) if self.subscription else self.entity
        self._wake = asyncio.Event()
        self._tasks = TaskGroup(ctx.services.log, f"service bus trigger {self.name}")
        self._poller: asyncio.Task[None] | None = None
        self._remove_waker = lambda: None

    async def start(self) -> None:
        if self.subscription:
            await asyncio.to_thread(self.bus.create_subscription, self.entity, self.subscription)
        else:
            await asyncio.to_thread(self.bus.create_queue, self.entity)
        loop = asyncio.get_running_loop()
        self._remove_waker = self.bus.add_waker(lambda: loop.call_soon_threadsafe(self._wake.set))
        self._poller = loop.create_task(self._poll_forever())
        self.ctx.services.log.info(
            "service bus trigger %s: watching %s (local transport)", self.name, self.path
        )

    async def stop(self) -> None:
        self._remove_waker()
        await self.cancel_loop(self._poller)
        await self._tasks.drain(timeout=10.0)

    async def _poll_forever(self) -> None:
        interval = self.ctx.tuning.servicebus_poll_interval
        while True:
            self._wake.clear()
            slots = 1 if self.many else self.options.maxConcurrentCalls - len(self._tasks)
            if self.many and len(self._tasks) >= 1:
                slots = 0
            messages: list[StoredMessage] = []
            if slots > 0:
                want = self.options.maxMessageBatchSize if self.many else slots
                try:
                    messages = await asyncio.to_thread(
                        self.bus.receive, self.entity, self.subscription, max_messages=want
                    )
                except Exception as exc:
                    self.ctx.services.log.warning(
                        "service bus trigger %s: receive failed: %s", self.name, one_line(exc)
                    )
            if messages:
                if self.many:
                    self._tasks.spawn(self._process(messages))
                else:
                    for message in messages:
                        self._tasks.spawn(self._process([message]))
                continue
            wait = interval
            with contextlib.suppress(Exception):
                upcoming = await asyncio.to_thread(self.bus.next_visible_time, self.entity, self.subscription)
                if upcoming is not None:
                    wait = min(interval, max(0.0, upcoming - self.bus.clock()))
            await wait_for_event(self._wake, wait if slots > 0 else 0.01)

    async def _renew_locks(self, messages: list[StoredMessage]) -> None:
        deadline = time.monotonic() + self.options.maxAutoLockRenewalDuration.total_seconds()
        now = self.bus.clock()
        lock_s = min((m.locked_until_utc.timestamp() - now) for m in messages if m.locked_until_utc)
        period = max(0.05, lock_s / 2)
        while time.monotonic() < deadline:
            await asyncio.sleep(period)
            for message in messages:
                with contextlib.suppress(LockLost):
                    await asyncio.to_thread(self.bus.renew_lock, message.lock_token or "")

    async def _process(self, messages: list[StoredMessage]) -> None:
        renewal = asyncio.get_running_loop().create_task(self._renew_locks(messages))
        try:
            error = await self._invoke(messages)
        finally:
            renewal.cancel()
            with contextlib.suppress(BaseException):
                await renewal
        for message in messages:
            token = message.lock_token or ""
            try:
                if error is None:
                    await asyncio.to_thread(self.bus.complete, token)
                    continue
                self.ctx.services.log.warning(
                    "service bus trigger %s: message %s delivery %d failed: %s",
                    self.name, message.message_id, message.delivery_count, error,
                )
                if await asyncio.to_thread(self.bus.abandon, token, error):
                    self.ctx.services.log.error(
                        "service bus trigger %s: message %s dead-lettered on %s after %d deliveries",
                        self.name, message.message_id, self.path, message.delivery_count,
                    )
            except LockLost as exc:
                self.ctx.services.log.warning("service bus trigger %s: %s", self.name, exc)

    async def _invoke(self, messages: list[StoredMessage]) -> str | None:
        try:
            converted = [to_function_message(m) for m in messages]
            first = messages[0]
            binding_data: dict[str, Any] = {
                "MessageId": first.message_id, "CorrelationId": first.correlation_id,
                "DeliveryCount": first.delivery_count, "ContentType": first.content_type,
                "SequenceNumber": first.sequence_number,
                "ApplicationProperties": first.application_properties,
                "UserProperties": first.application_properties,
            }
            if not self.many:
                with contextlib.suppress(ValueError):
                    parsed = json.loads(first.body)
                    if isinstance(parsed, dict):
                        binding_data = {**parsed, **binding_data}
            outputs = prepare_outputs(
                self.function, self.ctx.services.settings, state_dir=self.ctx.services.state_dir,
                binding_data=binding_data, queues=self.ctx.extensions.queues,
            )
            value: Any = converted if self.many else converted[0]
            result = await self.ctx.services.invoke(self.function, {self.arg_name: value, **outputs.args})
            await outputs.flush(result)
        except Exception as exc:
            return one_line(exc)
        return None
