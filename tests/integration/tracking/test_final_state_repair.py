"""Issue 13 defect 3: final states are written until read back, and a read that finds tracking behind a
finished orchestration repairs it (TableRunStore on Azurite)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from activities import tracking as tracking_activities
from jobclusters.services import factory
from jobclusters.tracking.models import RunRecord, RunState, TaskRunRecord
from jobclusters.tracking.read_repair import FinalStateNotReadBack, repair_tracking
from jobclusters.tracking.table_store import TableRunStore

pytestmark = pytest.mark.integration
T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(storage_connection: str) -> TableRunStore:
    return TableRunStore(storage_connection, table_prefix=f"t{uuid.uuid4().hex[:10]}")


class LosesFirstFinalWrite:
    """Acknowledges the first final-state write of each kind and drops it, like an emulator killed
    right after answering."""

    def __init__(self, real: TableRunStore) -> None:
        self.real = real
        self.dropped: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def record_run(self, record: RunRecord) -> Any:
        if record.state.terminal and "run" not in self.dropped:
            self.dropped.append("run")
            return SimpleNamespace(applied=True, state=record.state)
        return self.real.record_run(record)

    def record_task_runs(self, run_id: str, records: Sequence[TaskRunRecord]) -> int:
        if any(r.state.terminal for r in records) and "tasks" not in self.dropped:
            self.dropped.append("tasks")
            return len(records)
        return self.real.record_task_runs(run_id, records)


def call(activity: Any, payload: dict[str, Any]) -> Any:
    return activity.build().get_user_function()(payload)


def _run_input(state: str) -> dict[str, Any]:
    return {"run_id": "run-1", "job_id": "job", "state": state, "created_at": T0.isoformat()}


def _task_input(state: str) -> dict[str, Any]:
    return {"rows": [{"run_id": "run-1", "task_key": "a", "state": state, "attempt": 1}]}


def test_a_final_state_the_storage_lost_is_not_read_back_and_the_retry_writes_it(store) -> None:
    lossy = LosesFirstFinalWrite(store)
    factory.override("runs", lossy)
    try:
        call(tracking_activities.record_run, _run_input("RUNNING"))
        call(tracking_activities.record_task_runs, _task_input("RUNNING"))
        with pytest.raises(FinalStateNotReadBack):
            call(tracking_activities.record_task_runs, _task_input("SUCCESS"))
        with pytest.raises(FinalStateNotReadBack):
            call(tracking_activities.record_run, _run_input("SUCCESS"))
        call(tracking_activities.record_task_runs, _task_input("SUCCESS"))  # the durable retry
        call(tracking_activities.record_run, _run_input("SUCCESS"))
    finally:
        factory.reset()
    run, tasks = store.get_run_with_tasks("run-1")
    assert run is not None and run.state == RunState.SUCCESS
    assert [(t.task_key, t.state) for t in tasks] == [("a", RunState.SUCCESS)]


def test_a_read_repairs_rows_behind_the_finished_orchestration(store) -> None:
    store.record_run(RunRecord(run_id="run-1", job_id="job", state=RunState.RUNNING, created_at=T0))
    store.record_task_runs(
        "run-1",
        [
            TaskRunRecord(run_id="run-1", task_key="a", state=RunState.SUCCESS),
            TaskRunRecord(run_id="run-1", task_key="b", state=RunState.RUNNING),
        ],
    )
    output = {
        "result": "FAILED",
        "message": "b failed",
        "end": T0.isoformat(),
        "repair_number": 0,
        "tasks": {"a": {"state": "SUCCESS"}, "b": {"state": "FAILED", "message": "exit code 3"}},
    }
    status = SimpleNamespace(runtime_status=SimpleNamespace(value="Completed"), output=output)

    shown = asyncio.run(repair_tracking(store, status, store.get_run_with_tasks("run-1")))

    assert shown is not None and shown[0] is not None and shown[0].state == RunState.FAILED
    run, tasks = store.get_run_with_tasks("run-1")
    assert run is not None and (run.state, run.error_message) == (RunState.FAILED, "b failed")
    assert {t.task_key: (t.state, t.error_message) for t in tasks} == {
        "a": (RunState.SUCCESS, None),
        "b": (RunState.FAILED, "exit code 3"),
    }
    running = SimpleNamespace(runtime_status=SimpleNamespace(value="Running"), output=None)
    assert asyncio.run(repair_tracking(store, running, (run, tasks))) == (run, tasks)


def test_a_canceled_runs_task_rows_are_left_to_the_tasks_still_winding_down(store) -> None:
    """run_job ends before its canceled tasks do: their rows are theirs to finish (with their log links)."""
    store.record_run(RunRecord(run_id="run-2", job_id="job", state=RunState.RUNNING, created_at=T0))
    store.record_task_runs("run-2", [TaskRunRecord(run_id="run-2", task_key="work", state=RunState.RUNNING)])
    output = {
        "result": "CANCELED",
        "message": "canceled: testing",
        "end": T0.isoformat(),
        "repair_number": 0,
        "tasks": {"work": {"state": "CANCELED", "message": "canceled: testing"}},
    }
    status = SimpleNamespace(runtime_status=SimpleNamespace(value="Completed"), output=output)

    asyncio.run(repair_tracking(store, status, store.get_run_with_tasks("run-2")))

    run, tasks = store.get_run_with_tasks("run-2")
    assert run is not None and run.state == RunState.CANCELED
    assert [(t.task_key, t.state) for t in tasks] == [("work", RunState.RUNNING)]
