"""Cost put on rows as tracking writes them, and in the run-end notification."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from activities.notify import _run_cost
from activities.tracking import task_record
from jobclusters.execution.messages import TaskRecordInput
from jobclusters.services import factory
from jobclusters.tracking.models import RunRecord, RunState, TaskRunRecord

T0 = datetime(2026, 12, 6, 5, 0, tzinfo=UTC)
BATCH = {"kind": "batch", "node_size": "Standard_D2s_v3", "node_count": 1, "mode": "onDemand"}


def row(state: str, **extra: Any) -> TaskRecordInput:
    return TaskRecordInput.model_validate(
        {
            "run_id": "r1",
            "task_key": "t",
            "state": state,
            "start": T0.isoformat(),
            "compute_info": BATCH,
            "queue_seconds": 60,
            **extra,
        }
    )


def test_an_ended_attempt_row_carries_its_cost_and_a_running_one_none(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("JOBCLUSTERS_MODE", "local")
    ended = task_record(row("SUCCESS", end=(T0 + timedelta(minutes=59)).isoformat()))
    assert ended.cost is not None and ended.cost.estimate == pytest.approx(0.096, abs=1e-6)
    assert ended.estimated_cost == ended.cost.estimate and "embedded default" in ended.cost.basis
    assert task_record(row("RUNNING")).cost is None


class Store:
    def __init__(self, tasks: list[TaskRunRecord]) -> None:
        self.tasks = tasks

    def get_run_with_tasks(self, run_id: str) -> tuple[RunRecord | None, list[TaskRunRecord]]:
        run = RunRecord(run_id=run_id, job_id="j", state=RunState.RUNNING, created_at=T0)
        return run, self.tasks


def test_the_run_end_notification_carries_the_run_cost(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOBCLUSTERS_MODE", "local")
    ended = task_record(row("SUCCESS", end=(T0 + timedelta(minutes=59)).isoformat()))
    with factory.overridden(runs=Store([ended])):
        cost = _run_cost("r1")
    assert cost is not None and cost["estimate"] == ended.estimated_cost and cost["overhead"] == []
    with factory.overridden(runs=Store([])):
        assert _run_cost("r1") is None
