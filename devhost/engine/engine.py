"""The durable client API (what the Durable client binding and the management URLs call) on top of dispatch.

Every request is a stored message or a read of the store; the dispatcher (devhost.engine.dispatcher) does the
rest, so a request never runs orchestrator code itself.
"""

from __future__ import annotations

import asyncio
import logging
import uuid

from devhost.engine import history as h
from devhost.engine.dispatcher import Dispatcher, UnknownOrchestrator
from devhost.engine.messages import (
    EntityOperation,
    EntityRequest,
    HistoryMessage,
    InboxMessage,
    Resume,
    Suspend,
    Terminate,
)
from devhost.engine.queries import decode_token, encode_token, instance_filter
from devhost.engine.runtime import TERMINAL, EngineStats, instance_state
from devhost.engine_api import InstanceNotFound, InstanceQuery, InstanceState

__all__ = ["DurableEngine", "EngineStats", "UnknownOrchestrator"]

log = logging.getLogger("devhost.engine")


class DurableEngine(Dispatcher):
    """Implements `devhost.engine_api.DurableEngine`."""

    # ------------------------------------------------------------------ orchestrations
    async def start_new(
        self, name: str, *, instance_id: str | None = None, input_json: str | None = None
    ) -> str:
        if name not in self.app.orchestrators:
            raise UnknownOrchestrator(
                f"The function '{name}' doesn't exist, is disabled, or is not an orchestrator function."
            )
        instance_id = instance_id or uuid.uuid4().hex
        self._recover()
        with self.store.transaction() as db:
            self._create_instance(db, name, instance_id, input_json, None, None)
        self._poke()
        return instance_id

    async def get_instance(
        self, instance_id: str, *, show_history: bool = False, show_input: bool = True
    ) -> InstanceState | None:
        row = self.store.get_instance(instance_id)
        if row is None:
            return None
        history = None
        if show_history:
            rt = self._runtimes.get(instance_id)
            history = list(rt.history) if rt is not None else self.store.load_history(instance_id)
        return instance_state(row, history, show_input)

    async def query_instances(self, query: InstanceQuery) -> tuple[list[InstanceState], str | None]:
        where, params = instance_filter(query)
        if query.continuation_token:
            created, last_id = decode_token(query.continuation_token)
            where += (" AND " if where else "WHERE ") + "(created > ? OR (created = ? AND instance_id > ?))"
            params += [created, created, last_id]
        size = max(1, query.page_size)
        rows = self.store.query_instances(where, params, size + 1)
        token = None
        if len(rows) > size:
            rows = rows[:size]
            token = encode_token(rows[-1].created, rows[-1].instance_id)
        return [instance_state(r, None, query.show_input) for r in rows], token

    def _send(self, instance_id: str, message: InboxMessage) -> None:
        row = self.store.get_instance(instance_id)
        if row is None:
            raise InstanceNotFound(instance_id)
        if row.status in TERMINAL:
            log.info("instance %s is %s; %s ignored", instance_id, row.status, message.kind)
            return
        with self.store.transaction() as db:
            mid = self.store.add_message(db, instance_id, message)
        rt = self._runtime(instance_id)
        if rt is not None:
            rt.inbox.append((mid, message))
            self._mark_ready(instance_id)
        self._poke()

    async def raise_event(self, instance_id: str, event_name: str, data_json: str | None) -> None:
        self._send(instance_id, HistoryMessage(h.event_raised(self.clock.now(), event_name, data_json)))

    async def terminate(self, instance_id: str, reason: str) -> None:
        self._send(instance_id, Terminate(reason))

    async def suspend(self, instance_id: str, reason: str) -> None:
        self._send(instance_id, Suspend(reason))

    async def resume(self, instance_id: str, reason: str) -> None:
        self._send(instance_id, Resume(reason))

    async def purge(self, instance_id: str) -> bool:
        row = self.store.get_instance(instance_id)
        if row is None or row.status not in TERMINAL:
            return False
        with self.store.transaction() as db:
            self.store.delete_instance(db, instance_id)
        self._runtimes.pop(instance_id, None)
        return True

    async def purge_many(self, query: InstanceQuery) -> int:
        where, params = instance_filter(query)
        rows = self.store.query_instances(where, params, 1 << 62)
        count = 0
        for row in rows:
            if await self.purge(row.instance_id):
                count += 1
        return count

    async def wait_for_terminal(self, instance_id: str, timeout: float | None = None) -> InstanceState:
        row = self.store.get_instance(instance_id)
        if row is None:
            raise InstanceNotFound(instance_id)
        if row.status in TERMINAL:
            return instance_state(row)
        future: asyncio.Future[InstanceState] = asyncio.get_running_loop().create_future()
        self._terminal_waiters.setdefault(instance_id, []).append(future)
        try:
            return await asyncio.wait_for(future, timeout)
        finally:
            waiters = self._terminal_waiters.get(instance_id, [])
            if future in waiters:
                waiters.remove(future)

    async def settled(self) -> None:
        """Return once every request made so far has been handled and only timers or new requests could
        change anything: lets a test show that something did not happen without sleeping."""
        assert self._idle is not None, "start the engine first"
        await self._idle.wait()

    # ------------------------------------------------------------------ entities
    async def signal_entity(
        self, entity_name: str, key: str, operation: str, input_json: str | None = None
    ) -> None:
        """Send a one-way operation to an entity (what the client's `signal_entity` does)."""
        if entity_name.lower() not in self._entity_functions:
            raise ValueError(
                f"The function '{entity_name}' doesn't exist, is disabled, or is not an entity function."
            )
        entity_id = f"@{entity_name.lower()}@{key}"
        request = EntityRequest(id=str(uuid.uuid4()), op=operation, signal=True, input=input_json or "null")
        message = EntityOperation(request)
        with self.store.transaction() as db:
            mid = self.store.add_message(db, entity_id, message)
        self._entity_inbox(entity_id).append((mid, message))
        self._mark_ready(entity_id)
        self._poke()

    async def read_entity_state(self, entity_name: str, key: str) -> tuple[bool, str | None]:
        """(exists, state as JSON text) of one entity."""
        return self.store.get_entity(f"@{entity_name.lower()}@{key}")
