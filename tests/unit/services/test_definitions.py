"""The job definition store against Azurite."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from jobclusters.spec import Job
from jobclusters.tracking.definitions import TableJobDefinitionStore

pytestmark = pytest.mark.integration


def test_definitions_round_trip_and_versions_grow(storage_connection: str) -> None:
    store = TableJobDefinitionStore(storage_connection, "t" + uuid.uuid4().hex[:8])
    big = {
        "name": "big",
        "description": "x" * 100_000,
        "tasks": [{"key": f"t{i}"} for i in range(200)],
        "triggers": [{"kind": "storage_event", "prefix": "in/"}],
        "schedule": {"quartz_cron_expression": "0 0 * * * ?"},
    }
    job = Job.model_validate(big)

    async def scenario() -> None:
        assert await store.list() == []
        first = await store.put("big", job, big, format="native", base_dir="/jobs")
        second = await store.put("big", job, big, format="native", base_dir="/jobs")
        assert (first.version, second.version) == (1, 2)
        assert second.registered_at == first.registered_at
        loaded = await store.get("big")
        assert (
            loaded is not None and loaded.job == job and loaded.source == big and loaded.base_dir == "/jobs"
        )
        [summary] = await store.list()
        assert summary.triggers[0].kind == "storage_event" and summary.schedule is not None
        assert len(summary.task_keys) == 200
        assert await store.delete("big") is True
        assert await store.delete("big") is False
        assert await store.get("big") is None

    asyncio.run(scenario())
