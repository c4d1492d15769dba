"""The contract between the durable engine and everything that drives it (client HTTP API, CLI, tests).

Payloads travel as JSON text exactly as the Functions host passes them, so callers never re-encode.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


class RuntimeStatus(enum.StrEnum):
    PENDING = "Pending"
    RUNNING = "Running"
    COMPLETED = "Completed"
    CONTINUED_AS_NEW = "ContinuedAsNew"
    FAILED = "Failed"
    TERMINATED = "Terminated"
    SUSPENDED = "Suspended"


TERMINAL_STATUSES = frozenset({RuntimeStatus.COMPLETED, RuntimeStatus.FAILED, RuntimeStatus.TERMINATED})


class InstanceNotFound(LookupError):
    pass


class InstanceAlreadyRunning(RuntimeError):
    """start_new with the id of an instance that is not in a terminal state (the extension refuses too)."""


@dataclass(frozen=True)
class InstanceState:
    instance_id: str
    name: str
    runtime_status: RuntimeStatus
    created_time: datetime
    last_updated_time: datetime
    input: str | None = None  # JSON text
    output: str | None = None  # JSON text (the failure message for Failed)
    custom_status: str | None = None  # JSON text
    parent_instance_id: str | None = None
    history: list[dict[str, Any]] | None = None  # only when asked for


@dataclass(frozen=True)
class InstanceQuery:
    runtime_status: frozenset[RuntimeStatus] = field(default_factory=frozenset)
    created_from: datetime | None = None
    created_to: datetime | None = None
    instance_id_prefix: str | None = None
    page_size: int = 100
    continuation_token: str | None = None
    show_input: bool = False


class DurableEngine(Protocol):
    async def start_new(
        self, name: str, *, instance_id: str | None = None, input_json: str | None = None
    ) -> str: ...

    async def get_instance(
        self, instance_id: str, *, show_history: bool = False, show_input: bool = True
    ) -> InstanceState | None: ...

    async def query_instances(self, query: InstanceQuery) -> tuple[list[InstanceState], str | None]:
        """One page of instances and the continuation token for the next (None on the last page)."""
        ...

    async def raise_event(self, instance_id: str, event_name: str, data_json: str | None) -> None: ...

    async def terminate(self, instance_id: str, reason: str) -> None: ...

    async def suspend(self, instance_id: str, reason: str) -> None: ...

    async def resume(self, instance_id: str, reason: str) -> None: ...

    async def purge(self, instance_id: str) -> bool: ...

    async def purge_many(self, query: InstanceQuery) -> int: ...

    async def wait_for_terminal(self, instance_id: str, timeout: float | None = None) -> InstanceState:
        """Block until the instance reaches a terminal status (in-process callers and tests)."""
        ...
