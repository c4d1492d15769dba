"""TableRunStore against Azurite: keys, forward-only writes under concurrency, batches, overflow."""

from __future__ import annotations

import base64
import json
import random
import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from azure.data.tables import TableServiceClient

from jobclusters.tracking.models import (
    ComputeInfo,
    Links,
    RunRecord,
    RunState,
    TaskRunRecord,
    Trigger,
)
from jobclusters.tracking.redact import REDACTED
from jobclusters.tracking.table_store import TableRunStore

pytestmark = pytest.mark.integration
T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(storage_connection: str) -> TableRunStore:
    return TableRunStore(storage_connection, table_prefix=f"t{uuid.uuid4().hex[:10]}")


def run(run_id: str = "run-1", state: RunState = RunState.RUNNING, **fields) -> RunRecord:
    values = {
        "run_id": run_id,
        "job_id": "job-a",
        "state": state,
        "created_at": T0,
        "start_time": T0,
        **fields,
    }
    return RunRecord.model_validate(values)


def task_run(key: str, state: RunState = RunState.SUCCESS, run_id: str = "run-1", **fields) -> TaskRunRecord:
    return TaskRunRecord.model_validate({"run_id": run_id, "task_key": key, "state": state, **fields})


def test_run_record_round_trips_everything_a_user_asks_after_a_run(store):
    record = run(
        state=RunState.FAILED,
        end_time=T0 + timedelta(minutes=3),
        attempts=2,
        trigger=Trigger(kind="blob", source="inbox/data.csv", actor="blob-trigger"),
        parameters={"date": "2026-11-20", "limit": 5},
        compute=[
            ComputeInfo(
                kind="batch",
                pool_or_cluster="pool-1",
                node_size="Standard_D4s_v3",
                node_count=10,
                spot=True,
                mode="onDemand",
            )
        ],
        error_message="task t3 failed with exit code 2",
        links=Links(logs={"t3": "https://logs/t3/stderr.txt"}, outputs={"result": "https://out/result.csv"}),
    )
    assert store.record_run(record).applied
    stored = store.get_run("run-1")
    assert stored is not None
    assert stored.model_dump() == record.model_dump()
    assert stored.duration_seconds == 180.0
    assert stored.estimated_cost is None


def test_state_only_moves_forward_and_stale_writes_are_reported(store):
    assert store.record_run(run(state=RunState.PENDING)).applied
    assert store.record_run(run(state=RunState.SUCCESS, end_time=T0 + timedelta(seconds=9))).applied
    late = store.record_run(run(state=RunState.RUNNING))
    assert (late.applied, late.state) == (False, RunState.SUCCESS)
    other_terminal = store.record_run(run(state=RunState.FAILED))
    assert other_terminal.applied is False, "the first terminal state wins"
    stored = store.get_run("run-1")
    assert stored is not None and stored.state == RunState.SUCCESS
    assert stored.end_time == T0 + timedelta(seconds=9)


def test_a_repair_generation_may_leave_a_terminal_state(store):
    store.record_run(run(state=RunState.FAILED))
    assert store.record_run(run(state=RunState.RUNNING, generation=1)).applied
    assert store.record_run(run(state=RunState.SUCCESS, generation=0)).applied is False
    stored = store.get_run("run-1")
    assert stored is not None and (stored.state, stored.generation) == (RunState.RUNNING, 1)


def test_concurrent_writers_in_random_order_end_in_the_latest_state(store):
    order = [RunState.PENDING, RunState.QUEUED, RunState.RUNNING, RunState.TERMINATING, RunState.CANCELED]
    for i in range(3):
        run_id = f"race-{i}"
        writes = [run(run_id=run_id, state=s) for s in order for _ in range(2)]
        random.Random(i).shuffle(writes)
        barrier = threading.Barrier(len(writes))
        errors: list[BaseException] = []

        def write(record: RunRecord, barrier: threading.Barrier = barrier, errors: list = errors) -> None:
            try:
                barrier.wait()
                store.record_run(record)
            except BaseException as exc:  # pragma: no cover - surfaced below
                errors.append(exc)

        threads = [threading.Thread(target=write, args=(w,)) for w in writes]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        stored = store.get_run(run_id)
        assert stored is not None and stored.state == RunState.CANCELED
        [summary] = [s for s in store.list_runs_for_job("job-a", page_size=100).items if s.run_id == run_id]
        assert summary.state == RunState.CANCELED, "index rows are forward-only too"


def test_a_run_and_all_its_task_runs_come_back_from_one_partition(store):
    store.record_run(run())
    tasks = [task_run(f"t{i}", attempt=1 + i % 2) for i in range(5)]
    assert store.record_task_runs("run-1", tasks) == 5
    stored_run, stored_tasks = store.get_run_with_tasks("run-1")
    assert stored_run is not None and stored_run.run_id == "run-1"
    assert sorted((t.task_key, t.attempt) for t in stored_tasks) == sorted(
        (t.task_key, t.attempt) for t in tasks
    )


@pytest.mark.parametrize("asked", [1, 3, 15, 100])
def test_task_runs_read_by_key_are_exactly_those_rows_among_many(store, asked):
    """Named in the filter (up to 56 keys) or picked from a scan (more): the same rows either way,
    whatever characters a task key holds, and never another generation's or attempt's."""
    keys = [f"loop[{i}]/it's #{i}" for i in range(120)]
    store.record_task_runs("run-1", [task_run(k, RunState.RUNNING) for k in keys])
    store.record_task_runs("run-1", [task_run(k, RunState.FAILED, attempt=2) for k in keys[:50]])
    wanted = [task_run(k, RunState.SUCCESS) for k in keys[::-1][:asked]] + [task_run("ghost")]

    found = store.get_task_runs("run-1", wanted)

    assert sorted((t.task_key, t.attempt, t.state) for t in found) == sorted(
        (k, 1, RunState.RUNNING) for k in keys[::-1][:asked]
    )


def test_batch_writes_handle_hundreds_of_rows_and_skip_stale_ones(store):
    store.record_run(run())
    store.record_task_run(task_run("t0001", RunState.SUCCESS))
    updates = [task_run(f"t{i:04d}", RunState.RUNNING) for i in range(250)]
    written = store.record_task_runs("run-1", updates)
    assert written == 249, "t0001 already succeeded, so its late RUNNING is dropped"
    finals = [task_run(f"t{i:04d}", RunState.FAILED, exit_code=1, error_message="boom") for i in range(250)]
    assert store.record_task_runs("run-1", finals) == 249
    _, stored = store.get_run_with_tasks("run-1")
    states = {t.task_key: t.state for t in stored}
    assert len(states) == 250
    assert states.pop("t0001") == RunState.SUCCESS
    assert set(states.values()) == {RunState.FAILED}


def test_concurrent_batch_writers_never_move_a_task_backwards(store):
    store.record_run(run())
    keys = [f"t{i:03d}" for i in range(120)]
    batches = [
        [task_run(k, RunState.RUNNING) for k in keys],
        [task_run(k, RunState.SUCCESS) for k in keys],
        [task_run(k, RunState.QUEUED) for k in keys],
    ]
    threads = [threading.Thread(target=store.record_task_runs, args=("run-1", b)) for b in batches]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    _, stored = store.get_run_with_tasks("run-1")
    assert {t.state for t in stored} == {RunState.SUCCESS}
    assert len(stored) == 120


def test_out_of_order_single_task_updates_keep_the_start_time(store):
    start = T0 + timedelta(seconds=1)
    store.record_task_run(task_run("a", RunState.RUNNING, start_time=start))
    store.record_task_run(task_run("a", RunState.SUCCESS, end_time=start + timedelta(seconds=4)))
    assert store.record_task_run(task_run("a", RunState.RUNNING, start_time=start)).applied is False
    _, [stored] = store.get_run_with_tasks("run-1")
    assert (stored.state, stored.start_time, stored.duration_seconds) == (RunState.SUCCESS, start, 4.0)


def test_large_values_go_to_blob_storage_and_come_back(store, storage_connection):
    big = {"rows": ["x" * 1000] * 200}
    store.record_run(run(parameters=big, error_message="e" * 70_000))
    store.record_task_run(task_run("big", output={"blob": "y" * 900_000}))
    stored = store.get_run("run-1")
    assert stored is not None and stored.parameters == big and stored.error_message == "e" * 70_000
    _, [task] = store.get_run_with_tasks("run-1")
    assert task.output == {"blob": "y" * 900_000}
    tables = TableServiceClient.from_connection_string(storage_connection)
    raw = tables.get_table_client(store._runs.table_name).get_entity("run-1", "run")
    assert "Parameters__blob" in raw and "Parameters" not in raw


def test_secure_inputs_and_outputs_are_stored_redacted(store, storage_connection):
    store.record_run(
        run(parameters={"user": "bob", "api_token": "tok-123"}, error_message="AccountKey=abc123")
    )
    store.record_task_run(
        task_run("s", parameters={"q": "v"}, secure_input=True, output={"pw": "o"}, secure_output=True)
    )
    tables = TableServiceClient.from_connection_string(storage_connection)
    dumped = json.dumps(
        [
            dict(e)
            for e in tables.get_table_client(store._runs.table_name).list_entities()
        ],
        default=str,
    )
    for secret in ("tok-123", "abc123", '"v"', '"o"'):
        assert secret not in dumped
    stored = store.get_run("run-1")
    assert stored is not None and stored.parameters == {"user": "bob", "api_token": REDACTED}
    _, [task] = store.get_run_with_tasks("run-1")
    assert task.parameters == {"q": REDACTED} and task.output == {"pw": REDACTED}


def test_newest_runs_of_a_job_come_first_in_pages(store):
    for i in range(7):
        store.record_run(run(run_id=f"r{i}", created_at=T0 + timedelta(minutes=i)))
    store.record_run(run(run_id="other", job_id="job-b"))
    seen: list[str] = []
    token = None
    while True:
        page = store.list_runs_for_job("job-a", page_size=3, token=token)
        seen.extend(s.run_id for s in page.items)
        token = page.continuation_token
        if token is None:
            break
    assert seen == [f"r{i}" for i in reversed(range(7))]


def test_runs_by_state_and_time_range_across_days(store):
    for i in range(6):
        state = RunState.FAILED if i % 2 else RunState.SUCCESS
        store.record_run(run(run_id=f"d{i}", state=state, created_at=T0 - timedelta(days=i, hours=1)))
    page = store.list_runs(since=T0 - timedelta(days=4, hours=2), until=T0, states=[RunState.FAILED])
    collected = [s.run_id for s in page.items]
    token = page.continuation_token
    while token:
        page = store.list_runs(
            since=T0 - timedelta(days=4, hours=2), until=T0, states=[RunState.FAILED], token=token
        )
        collected.extend(s.run_id for s in page.items)
        token = page.continuation_token
    assert collected == ["d1", "d3"]
    paged = store.list_runs(since=T0 - timedelta(days=10), until=T0, page_size=2)
    assert [s.run_id for s in paged.items] == ["d0", "d1"] and paged.continuation_token


def test_bad_continuation_token_is_rejected_clearly(store):
    with pytest.raises(ValueError, match="continuation token"):
        store.list_runs_for_job("job-a", token="not-a-token!")


@pytest.mark.parametrize(
    "decoded",
    [
        {"day": "20260101"},
        {"PartitionKey": 1, "RowKey": "x"},
        ["a"],
        "text",
        {"day": "2026-01-01", "tk": None},
    ],
)
def test_a_well_encoded_token_of_the_wrong_shape_is_rejected_too(store, decoded):
    token = base64.urlsafe_b64encode(json.dumps(decoded).encode()).decode()
    with pytest.raises(ValueError, match="continuation token"):
        store.list_runs_for_job("job-a", token=token)
    with pytest.raises(ValueError, match="continuation token"):
        store.list_runs(since=T0 - timedelta(days=1), until=T0, token=token)
