"""Issue 13 defect 6: one unreadable stored definition does not keep the other matching jobs from getting
the file, and does not send the event back for redelivery (and so to poison). The event handler records an
arrival per matching job without reading any definition; each job's own dispatcher reads its definition."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

import triggers.blob as blob_trigger
from jobclusters.spec.model import StorageEventTrigger
from triggers.blob_rules import ArrivedBlob


class Store:
    """Job summaries list fine; reading a definition fails for every job (as a corrupt blob would)."""

    async def list(self) -> list[Any]:
        rule = [StorageEventTrigger(suffix=".csv")]
        return [SimpleNamespace(job_id=j, triggers=rule) for j in ("a", "broken", "c")]

    async def get(self, job_id: str) -> Any:
        raise ValueError("1 validation error for Job")


class Arrivals:
    def __init__(self, failing: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        self.failing = failing
        self.recorded: list[str] = []

    def record(self, job_id: str, rule: int, kind: str, **blob: Any) -> bool:
        if job_id in self.failing:
            raise ConnectionError("storage blinked")
        self.recorded.append(job_id)
        return True


ARRIVED = ArrivedBlob.from_path("incoming/x.csv", size=3, url="http://h/incoming/x.csv", etag='"1"')


def _no_dispatchers(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    nudged: list[str] = []

    async def nudge(client: Any, job_id: str) -> None:
        nudged.append(job_id)

    monkeypatch.setattr(blob_trigger, "nudge_dispatcher", nudge)
    return nudged


def test_every_matching_job_gets_the_file_without_reading_any_definition(monkeypatch) -> None:
    nudged = _no_dispatchers(monkeypatch)
    arrivals = Arrivals()

    outcomes = asyncio.run(blob_trigger.start_runs_for(ARRIVED, Store(), None, arrivals))  # type: ignore[arg-type]

    assert arrivals.recorded == ["a", "broken", "c"] and nudged == ["a", "broken", "c"]
    assert [job for job, _ in outcomes] == ["a", "broken", "c"]


def test_a_transient_failure_for_one_job_asks_for_redelivery_after_the_others_recorded(monkeypatch) -> None:
    _no_dispatchers(monkeypatch)
    arrivals = Arrivals(failing={"a"})

    with pytest.raises(RuntimeError, match="a: ConnectionError"):
        asyncio.run(blob_trigger.start_runs_for(ARRIVED, Store(), None, arrivals))  # type: ignore[arg-type]
    assert arrivals.recorded == ["broken", "c"]
