"""A scripted in-memory `DurableEngine` for testing the HTTP API's shapes and status codes.

It runs no orchestrator code: instances start Running and the test moves them on (`complete`, `fail`).
Everything the API does is recorded so tests can check what reached the engine (raw JSON text included).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from devhost.engine_api import (
    TERMINAL_STATUSES,
    InstanceAlreadyRunning,
    InstanceNotFound,
    InstanceQuery,
    InstanceState,
    RuntimeStatus,
)


@dataclass
class MemoryEngine:
    instances: dict[str, InstanceState] = field(default_factory=dict)
    events: list[tuple[str, str, str | None]] = field(default_factory=list)
    calls: list[tuple[str, str, str]] = field(default_factory=list)
    clock: datetime = field(default_factory=lambda: datetime(2026, 1, 1, tzinfo=UTC))

    def _tick(self) -> datetime:
        self.clock += timedelta(seconds=1)
        return self.clock

    def _set(self, instance_id: str, **changes: Any) -> None:
        self.instances[instance_id] = replace(
            self.instances[instance_id], last_updated_time=self._tick(), **changes
        )

    def complete(self, instance_id: str, output_json: str) -> None:
        self._set(instance_id, runtime_status=RuntimeStatus.COMPLETED, output=output_json)

    def fail(self, instance_id: str, message: str) -> None:
        self._set(instance_id, runtime_status=RuntimeStatus.FAILED, output=message)

    async def start_new(
        self, name: str, *, instance_id: str | None = None, input_json: str | None = None
    ) -> str:
        iid = instance_id or f"auto{len(self.instances)}"
        existing = self.instances.get(iid)
        if existing is not None and existing.runtime_status not in TERMINAL_STATUSES:
            raise InstanceAlreadyRunning(f"An instance with ID '{iid}' already exists.")
        now = self._tick()
        self.instances[iid] = InstanceState(
            instance_id=iid,
            name=name,
            runtime_status=RuntimeStatus.RUNNING,
            created_time=now,
            last_updated_time=now,
            input=input_json,
            history=[
                {"EventType": 12, "EventId": -1, "IsPlayed": False, "Timestamp": now.isoformat()},
                {
                    "EventType": 0,
                    "EventId": -1,
                    "Name": name,
                    "Input": input_json,
                    "Timestamp": now.isoformat(),
                },
                {"EventType": 4, "EventId": 0, "Name": "say", "Input": "1", "Timestamp": now.isoformat()},
                {
                    "EventType": 5,
                    "EventId": -1,
                    "TaskScheduledId": 0,
                    "Result": '"said"',
                    "Timestamp": now.isoformat(),
                },
            ],
        )
        return iid

    async def get_instance(
        self, instance_id: str, *, show_history: bool = False, show_input: bool = True
    ) -> InstanceState | None:
        state = self.instances.get(instance_id)
        if state is None:
            return None
        return replace(
            state, history=state.history if show_history else None, input=state.input if show_input else None
        )

    def _matches(self, s: InstanceState, q: InstanceQuery) -> bool:
        return (
            (not q.runtime_status or s.runtime_status in q.runtime_status)
            and (q.created_from is None or s.created_time >= q.created_from)
            and (q.created_to is None or s.created_time <= q.created_to)
            and (q.instance_id_prefix is None or s.instance_id.startswith(q.instance_id_prefix))
        )

    async def query_instances(self, query: InstanceQuery) -> tuple[list[InstanceState], str | None]:
        matching = sorted(
            (s for s in self.instances.values() if self._matches(s, query)), key=lambda s: s.instance_id
        )
        start = int(query.continuation_token or 0)
        page = matching[start : start + query.page_size]
        token = str(start + query.page_size) if start + query.page_size < len(matching) else None
        return [replace(s, history=None, input=s.input if query.show_input else None) for s in page], token

    def _running(self, instance_id: str) -> InstanceState:
        state = self.instances.get(instance_id)
        if state is None:
            raise InstanceNotFound(instance_id)
        return state

    async def raise_event(self, instance_id: str, event_name: str, data_json: str | None) -> None:
        self._running(instance_id)
        self.events.append((instance_id, event_name, data_json))

    async def terminate(self, instance_id: str, reason: str) -> None:
        self._running(instance_id)
        self.calls.append(("terminate", instance_id, reason))
        self._set(instance_id, runtime_status=RuntimeStatus.TERMINATED, output=reason)

    async def suspend(self, instance_id: str, reason: str) -> None:
        self._running(instance_id)
        self.calls.append(("suspend", instance_id, reason))
        self._set(instance_id, runtime_status=RuntimeStatus.SUSPENDED)

    async def resume(self, instance_id: str, reason: str) -> None:
        self._running(instance_id)
        self.calls.append(("resume", instance_id, reason))
        self._set(instance_id, runtime_status=RuntimeStatus.RUNNING)

    async def purge(self, instance_id: str) -> bool:
        return self.instances.pop(instance_id, None) is not None

    async def purge_many(self, query: InstanceQuery) -> int:
        doomed = [i for i, s in self.instances.items() if self._matches(s, query)]
        for iid in doomed:
            del self.instances[iid]
        return len(doomed)

    async def wait_for_terminal(self, instance_id: str, timeout: float | None = None) -> InstanceState:
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            state = self._running(instance_id)
            if state.runtime_status in TERMINAL_STATUSES:
                return state
            if deadline is not None and loop.time() >= deadline:
                raise TimeoutError(instance_id)
            await asyncio.sleep(0.01)
