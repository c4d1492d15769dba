"""Issue 13 defect 6: one unreadable stored definition does not keep the other matching jobs from starting,
and does not send the event back for redelivery (and so to poison)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

import triggers.blob as blob_trigger
from jobclusters.spec.model import StorageEventTrigger
from triggers.blob_rules import ArrivedBlob
from triggers.starter import StartOutcome


class Store:
    def __init__(self, unreadable: set[str]) -> None:
        self.unreadable = unreadable

    async def list(self) -> list[Any]:
        rule = [StorageEventTrigger(suffix=".csv")]
        return [SimpleNamespace(job_id=j, triggers=rule) for j in ("a", "broken", "c")]

    async def get(self, job_id: str) -> Any:
        if job_id in self.unreadable:
            raise ValueError("1 validation error for Job")
        return SimpleNamespace(job=None, base_dir=None)


def test_an_unreadable_definition_fails_alone_and_the_event_is_not_redelivered(monkeypatch) -> None:
    started: list[str] = []

    async def start_once(client: Any, receipts: Any, request: Any, arrived: Any) -> StartOutcome:
        started.append(request)
        return StartOutcome(f"run-{request}", started=True)

    monkeypatch.setattr(blob_trigger, "blob_run_request", lambda job_id, *_: job_id)
    monkeypatch.setattr(blob_trigger, "start_once", start_once)
    arrived = ArrivedBlob.from_path("incoming/x.csv", size=3, url="http://h/incoming/x.csv", etag='"1"')

    outcomes = asyncio.run(blob_trigger.start_runs_for(arrived, Store({"broken"}), None, None))  # type: ignore[arg-type]

    assert started == ["a", "c"]
    assert [job for job, _ in outcomes] == ["a", "c"]


def test_a_transient_start_failure_still_asks_for_redelivery_after_the_others_started(monkeypatch) -> None:
    started: list[str] = []

    async def start_once(client: Any, receipts: Any, request: Any, arrived: Any) -> StartOutcome:
        if request == "a":
            raise ConnectionError("storage blinked")
        started.append(request)
        return StartOutcome(f"run-{request}", started=True)

    monkeypatch.setattr(blob_trigger, "blob_run_request", lambda job_id, *_: job_id)
    monkeypatch.setattr(blob_trigger, "start_once", start_once)
    arrived = ArrivedBlob.from_path("incoming/x.csv", size=3, url="http://h/incoming/x.csv", etag='"1"')

    with pytest.raises(RuntimeError, match="a: ConnectionError"):
        asyncio.run(blob_trigger.start_runs_for(arrived, Store(set()), None, None))  # type: ignore[arg-type]
    assert started == ["broken", "c"]
