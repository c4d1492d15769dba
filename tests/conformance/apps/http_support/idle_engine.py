"""An engine with no instances, for HTTP tests that never reach the durable side."""

from __future__ import annotations

from devhost.engine_api import InstanceNotFound, InstanceQuery, InstanceState


class IdleEngine:
    async def start_new(
        self, name: str, *, instance_id: str | None = None, input_json: str | None = None
    ) -> str:
        raise RuntimeError("IdleEngine runs no orchestrations")

    async def get_instance(
        self, instance_id: str, *, show_history: bool = False, show_input: bool = True
    ) -> InstanceState | None:
        return None

    async def query_instances(self, query: InstanceQuery) -> tuple[list[InstanceState], str | None]:
        return [], None

    async def raise_event(self, instance_id: str, event_name: str, data_json: str | None) -> None:
        raise InstanceNotFound(instance_id)

    async def terminate(self, instance_id: str, reason: str) -> None:
        raise InstanceNotFound(instance_id)

    async def suspend(self, instance_id: str, reason: str) -> None:
        raise InstanceNotFound(instance_id)

    async def resume(self, instance_id: str, reason: str) -> None:
        raise InstanceNotFound(instance_id)

    async def purge(self, instance_id: str) -> bool:
        return False

    async def purge_many(self, query: InstanceQuery) -> int:
        return 0

    async def wait_for_terminal(self, instance_id: str, timeout: float | None = None) -> InstanceState:
        raise InstanceNotFound(instance_id)
