"""Each service's own times of the work, mapped from its REST shape (issue 11 defect 2).

The orchestrator records these instead of the moments its polls noticed a change, so each mapping is
checked against times the (loopback) service was told to report, never against when the test looked.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from azure.core.credentials import AzureNamedKeyCredential

from jobclusters.services.azure_batch import AzureBatchService
from jobclusters.services.batch import (
    JobSpec,
    PoolInformation,
    PoolPlacement,
    PoolSpec,
    TaskSpec,
    WorkSpan,
    make_task_id,
)
from jobclusters.services.cluster import LifeCycle, ResultState
from jobclusters.services.local_batch import LocalBatchService
from jobclusters.services.retries import BackoffPolicy
from tests.clocks import SleepClock
from tests.fakes.batch_rest import FakeBatchServer
from tests.fakes.databricks_rest import FakeDatabricks
from tests.fakes.livy_rest import FakeHDInsight
from tests.fakes.synapse_rest import FakeSynapse
from tests.integration.services import test_databricks, test_livy, test_synapse

T0 = datetime(2026, 3, 1, 8, 0, 0, tzinfo=UTC)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _rest(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# ---------------------------------------------------------------------------------------------- Batch


@pytest.fixture
def batch_fake() -> Iterator[FakeBatchServer]:
    with FakeBatchServer() as server:
        yield server
        assert server.state.violations == []


def test_a_batch_jobs_work_spans_its_tasks_execution_info(batch_fake: FakeBatchServer) -> None:
    service = AzureBatchService(
        batch_fake.url,
        AzureNamedKeyCredential(batch_fake.account_name, batch_fake.account_key),
        retry=BackoffPolicy(max_attempts=2, base_delay=0.01, max_delay=0.1, budget_seconds=None),
    )
    service.create_job(JobSpec(id="job-1", pool_info=PoolInformation(pool_id="p")))
    ids = [make_task_id("run-1", i) for i in range(3)]
    service.add_tasks("job-1", [TaskSpec(id=i, command_line="sleep 5") for i in ids])
    spans = [
        (T0 + timedelta(seconds=s), T0 + timedelta(seconds=e)) for s, e in ((12, 17), (10, 15), (11, 19))
    ]
    for task_id, (start, end) in zip(ids, spans, strict=True):
        batch_fake.finish_task("job-1", task_id, exit_code=0, start_time=_rest(start), end_time=_rest(end))

    span = service.get_work_span("job-1")
    service.close()

    assert span == WorkSpan(start_time=T0 + timedelta(seconds=10), end_time=T0 + timedelta(seconds=19))


def test_a_span_of_tasks_still_running_has_a_start_and_no_end() -> None:
    assert WorkSpan.of([(T0, None), (None, None)]) == WorkSpan(start_time=T0, end_time=None)
    assert WorkSpan.of([]) == WorkSpan()


def test_the_local_executor_reports_its_processes_own_start_and_end(tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    with LocalBatchService(tmp_path / "state", max_slots=2) as svc:
        pool = PoolSpec(id="pool-t", vm_size="local", target_dedicated_nodes=1, task_slots_per_node=2)
        ref = svc.ensure_pool(PoolPlacement(mode="onDemand", pool=pool), owner="run-1")
        svc.create_job(JobSpec(id="job-t", pool_info=ref.pool_info()))
        command = f"date +%s.%N >> {marks}; sleep 1; date +%s.%N >> {marks}"
        svc.add_tasks("job-t", [TaskSpec(id="t-0", command_line=command)])
        deadline = time.monotonic() + 20
        while not (counts := svc.get_task_counts("job-t")).completed and time.monotonic() < deadline:
            time.sleep(0.05)
        assert counts.succeeded == 1
        span = svc.get_work_span("job-t")
    began, ended = (float(line) for line in marks.read_text().split())
    assert span.start_time is not None and span.end_time is not None
    assert abs(span.start_time.timestamp() - began) < 0.2
    assert abs(span.end_time.timestamp() - ended) < 0.2


# ---------------------------------------------------------------------------------------------- Databricks


@pytest.fixture
def databricks() -> Iterator[FakeDatabricks]:
    with FakeDatabricks() as server:
        yield server


def test_a_databricks_runs_work_starts_after_cluster_setup_and_ends_with_its_execution(
    databricks: FakeDatabricks,
) -> None:
    svc = test_databricks.service(databricks, SleepClock(1000.0))
    cluster = {**test_databricks.CLUSTER, "num_workers": 1}
    handle = svc.submit(test_databricks.one_task(new_cluster=cluster), "k")
    run_id = int(handle.run_id)
    databricks.set_task(run_id, "main", "TERMINATED", "SUCCESS")
    databricks.set_times(run_id, "main", start_time=_ms(T0), setup=240_000, execution=6_000, cleanup=9_000)

    state = svc.get_state(handle)

    assert state.life_cycle is LifeCycle.TERMINATED and state.result is ResultState.SUCCESS
    assert state.start_time == T0 + timedelta(minutes=4)
    assert state.end_time == T0 + timedelta(minutes=4, seconds=6)
    assert (state.tasks[0].start_time, state.tasks[0].end_time) == (state.start_time, state.end_time)


def test_a_running_databricks_run_has_its_start_and_no_end(databricks: FakeDatabricks) -> None:
    svc = test_databricks.service(databricks, SleepClock(1000.0))
    handle = svc.submit(
        test_databricks.one_task(new_cluster={**test_databricks.CLUSTER, "num_workers": 1}), "k"
    )
    run_id = int(handle.run_id)
    databricks.set_task(run_id, "main", "RUNNING")
    with databricks.lock:
        task = databricks.runs[run_id].tasks[0]
        task.start_time, task.setup_duration = _ms(T0), 30_000

    state = svc.get_state(handle)

    assert state.life_cycle is LifeCycle.RUNNING
    assert (state.start_time, state.end_time) == (T0 + timedelta(seconds=30), None)


# ---------------------------------------------------------------------------------------------- Livy


@pytest.fixture
def hdinsight() -> Iterator[FakeHDInsight]:
    with FakeHDInsight() as server:
        yield server


def test_a_webhcat_jobs_own_start_and_finish_are_the_runs(hdinsight: FakeHDInsight) -> None:
    svc = test_livy.service(hdinsight)
    handle = svc.submit(test_livy.request(hive_task={"query": "SELECT 1"}), "h")
    job_id = handle.run_id.split(":", 1)[1]
    with hdinsight.lock:
        job = hdinsight.jobs[job_id]
        job.start_time, job.finish_time = _ms(T0), _ms(T0 + timedelta(seconds=42))
    hdinsight.set_job(job_id, "SUCCEEDED", exit_value=0)

    state = svc.get_state(handle)

    assert state.result is ResultState.SUCCESS
    assert (state.start_time, state.end_time) == (T0, T0 + timedelta(seconds=42))


def test_a_livy_batch_gives_no_times_so_none_are_made_up(hdinsight: FakeHDInsight) -> None:
    svc = test_livy.service(hdinsight)
    handle = svc.submit(test_livy.request(**test_livy.PY_TASK), "b")
    hdinsight.set_batch(int(handle.run_id.split(":", 1)[1]), "success")

    state = svc.get_state(handle)

    assert state.result is ResultState.SUCCESS
    assert (state.start_time, state.end_time) == (None, None)


# ---------------------------------------------------------------------------------------------- Synapse


@pytest.fixture
def synapse() -> Iterator[FakeSynapse]:
    with FakeSynapse(pools=("sparkpool01", "bigpool")) as server:
        yield server


@pytest.mark.parametrize("final", ["success", "dead", "killed"])
def test_a_synapse_batch_runs_from_running_at_to_its_livy_end(synapse: FakeSynapse, final: str) -> None:
    svc = test_synapse.service(synapse)
    handle = svc.submit(test_synapse.request(), "k")
    synapse.set_batch(1, final)
    with synapse.lock:
        batch = synapse.batches[1]
        batch.submitted_at = _rest(T0)
        batch.running_at = _rest(T0 + timedelta(minutes=3))
        batch.ended_at = _rest(T0 + timedelta(minutes=3, seconds=5))

    state = svc.get_state(handle)

    assert state.life_cycle is LifeCycle.TERMINATED
    assert state.start_time == T0 + timedelta(minutes=3)
    assert state.end_time == T0 + timedelta(minutes=3, seconds=5)
