"""What the cancel API hands the run, read back as the message the run ends with."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from jobclusters.run_request import CANCEL_EVENT, cancel_message
from triggers.runs_api import cancel_run


class RunningClient:
    def __init__(self) -> None:
        self.raised: list[tuple[str, str, Any]] = []

    async def get_status(self, instance_id: str, **_: Any) -> Any:
        return SimpleNamespace(runtime_status=SimpleNamespace(value="Running"))

    async def raise_event(self, instance_id: str, name: str, data: Any) -> None:
        self.raised.append((instance_id, name, data))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "canceled by request"),
        ({"reason": "wrong day"}, "canceled: wrong day"),
        ({"reason": "wrong day", "actor": "alice"}, "canceled by alice: wrong day"),
    ],
)
def test_the_cancel_event_reads_back_as_one_line(body: dict[str, Any], message: str) -> None:
    client = RunningClient()
    answer = asyncio.run(cancel_run(client, "run-1", body))
    assert answer.status == 202
    [(run_id, name, data)] = client.raised
    assert (run_id, name) == ("run-1", CANCEL_EVENT)
    assert cancel_message(data) == message
