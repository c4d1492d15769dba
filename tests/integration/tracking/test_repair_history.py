"""A repaired run in Table storage: every generation's task runs stay, the run row moves forward to the
latest result, and the run keeps its creation time and trigger, so every listing shows it once."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from jobclusters.tracking.models import Links, RunRecord, RunState, TaskRunRecord, Trigger
from jobclusters.tracking.table_store import TableRunStore

pytestmark = pytest.mark.integration
T0 = datetime(2026, 11, 20, 23, 50, tzinfo=UTC)


@pytest.fixture
def store(storage_connection: str) -> TableRunStore:
    return TableRunStore(storage_connection, table_prefix=f"t{uuid.uuid4().hex[:10]}")


def _generation(store: TableRunStore, generation: int, state: RunState, at: datetime) -> None:
    """What `run_job` writes for one generation: the run row (the repair's own creation time and a
    `repair` trigger), then the task run at start and at end."""
    trigger = Trigger(kind="repair" if generation else "cli")
    store.record_run(
        RunRecord(
            run_id="run-r",
            job_id="job-r",
            state=RunState.RUNNING,
            generation=generation,
            created_at=at,
            start_time=at,
            trigger=trigger,
        )
    )
    link = f"https://logs/gen{generation}/stdout.txt"
    for task_state in (RunState.RUNNING, state):
        store.record_task_run(
            TaskRunRecord(
                run_id="run-r",
                task_key="load",
                state=task_state,
                generation=generation,
                start_time=at,
                end_time=at + timedelta(seconds=5) if task_state.terminal else None,
                links=Links(logs={"stdout.txt": link}) if task_state.terminal else Links(),
            )
        )
    store.record_run(
        RunRecord(
            run_id="run-r",
            job_id="job-r",
            state=state,
            generation=generation,
            created_at=at,
            start_time=at,
            end_time=at + timedelta(seconds=6),
            trigger=trigger,
        )
    )


def test_repairs_keep_every_generation_and_the_run_is_listed_once_with_its_latest_result(store):
    _generation(store, 0, RunState.FAILED, T0)
    _generation(store, 1, RunState.FAILED, T0 + timedelta(minutes=20))  # the next day
    _generation(store, 2, RunState.SUCCESS, T0 + timedelta(minutes=40))

    record, tasks = store.get_run_with_tasks("run-r")
    assert record is not None
    assert (record.state, record.generation) == (RunState.SUCCESS, 2)
    assert record.created_at == T0 and record.trigger == Trigger(kind="cli")
    history = sorted((t.generation, t.attempt, t.state, t.links.logs["stdout.txt"]) for t in tasks)
    assert history == [
        (0, 1, RunState.FAILED, "https://logs/gen0/stdout.txt"),
        (1, 1, RunState.FAILED, "https://logs/gen1/stdout.txt"),
        (2, 1, RunState.SUCCESS, "https://logs/gen2/stdout.txt"),
    ]

    by_job = store.list_runs_for_job("job-r").items
    by_time = store.list_runs(since=T0 - timedelta(days=1), until=T0 + timedelta(days=2)).items
    for listed in (by_job, by_time):
        assert [(r.run_id, r.state, r.repair_count, r.trigger_kind) for r in listed] == [
            ("run-r", RunState.SUCCESS, 2, "cli")
        ]
    assert store.list_runs(since=T0, until=T0 + timedelta(days=2), states=[RunState.FAILED]).items == []


def test_a_late_write_of_an_earlier_generation_changes_nothing(store):
    _generation(store, 0, RunState.FAILED, T0)
    _generation(store, 1, RunState.SUCCESS, T0 + timedelta(minutes=5))
    store.record_run(
        RunRecord(run_id="run-r", job_id="job-r", state=RunState.FAILED, generation=0, created_at=T0)
    )
    record = store.get_run("run-r")
    assert record is not None and (record.state, record.generation) == (RunState.SUCCESS, 1)
    assert [(r.state, r.repair_count) for r in store.list_runs_for_job("job-r").items] == [
        (RunState.SUCCESS, 1)
    ]
