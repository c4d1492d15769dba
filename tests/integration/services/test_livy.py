"""The HDInsight service (Livy batches, WebHCat Hive/MapReduce) against a loopback gateway."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from jobclusters.services.cluster import (
    ClusterJobError,
    ClusterJobService,
    InvalidRunRequest,
    LifeCycle,
    ResultState,
    ServiceUnavailable,
    idempotency_token,
    parse_run_request,
)
from jobclusters.services.livy import HDInsightClusterJobService
from jobclusters.services.rate_limit import TokenBucket
from jobclusters.services.retries import BackoffPolicy
from tests.fakes.livy_rest import FakeHDInsight


@pytest.fixture
def fake() -> Iterator[FakeHDInsight]:
    with FakeHDInsight() as server:
        yield server


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def service(
    fake: FakeHDInsight, password: str = "loopback-password", attempts: int = 4
) -> HDInsightClusterJobService:
    sleeps = Sleeps()
    clock = [0.0]

    def advance(seconds: float) -> None:
        sleeps(seconds)
        clock[0] += seconds

    bucket = TokenBucket(rate=100.0, capacity=100.0, clock=lambda: clock[0], sleep=advance)
    svc = HDInsightClusterJobService(
        fake.url,
        fake.username,
        password,
        bucket=bucket,
        policy=BackoffPolicy(max_attempts=attempts, base_delay=0.01, budget_seconds=60),
        sleep=advance,
    )
    svc.sleeps = sleeps  # type: ignore[attr-defined]
    return svc


def request(**task: Any) -> Any:
    return parse_run_request({"run_id": "run-9", "tasks": [{"task_key": "spark", **task}]})


PY_TASK = {
    "spark_python_task": {
        "python_file": "abfss://jobs@acct.dfs.core.windows.net/etl.py",
        "parameters": ["--date", "2026-01-01"],
    }
}


def test_service_satisfies_the_protocol(fake) -> None:
    assert isinstance(service(fake), ClusterJobService)


def test_python_task_becomes_a_documented_livy_batch(fake) -> None:
    svc = service(fake)
    handle = svc.submit(
        request(
            **PY_TASK,
            new_cluster={
                "num_workers": 4,
                "autoscale": {"min_workers": 2, "max_workers": 6},
                "spark_conf": {"spark.sql.adaptive.enabled": "true", "spark.master": "yarn"},
            },
            libraries=[
                {"jar": "abfss://libs@acct.dfs.core.windows.net/udf.jar"},
                {"whl": "abfss://libs@acct.dfs.core.windows.net/helpers-1.0-py3-none-any.whl"},
                {"maven": {"coordinates": "com.microsoft.azure:azure-storage:8.6.6"}},
            ],
        ),
        "instance-1:spark",
    )
    assert fake.violations == []
    post = fake.calls("POST", "/livy/batches")[0]
    assert post.headers["X-Requested-By"]
    assert post.body == {
        "name": idempotency_token("instance-1:spark"),
        "file": "abfss://jobs@acct.dfs.core.windows.net/etl.py",
        "args": ["--date", "2026-01-01"],
        "jars": ["abfss://libs@acct.dfs.core.windows.net/udf.jar"],
        "pyFiles": ["abfss://libs@acct.dfs.core.windows.net/helpers-1.0-py3-none-any.whl"],
        "conf": {
            "spark.sql.adaptive.enabled": "true",
            "spark.dynamicAllocation.enabled": "true",
            "spark.dynamicAllocation.minExecutors": "2",
            "spark.dynamicAllocation.maxExecutors": "6",
            "spark.jars.packages": "com.microsoft.azure:azure-storage:8.6.6",
        },
    }
    assert handle.run_id == "batch:0"


def test_livy_batch_task_and_spark_submit_pass_their_fields(fake) -> None:
    svc = service(fake)
    svc.submit(
        request(
            spark_batch_task={
                "file": "wasbs://c@a.blob.core.windows.net/app.jar",
                "className": "com.example.Main",
                "args": ["1"],
                "driverMemory": "4g",
                "executorCores": 2,
                "numExecutors": 3,
                "conf": {"spark.speculation": True},
            }
        ),
        "a",
    )
    svc.submit(
        request(
            spark_submit_task={
                "parameters": [
                    "--class",
                    "org.example.Job",
                    "--conf",
                    "spark.executor.memory=8g",
                    "wasbs://c@a.blob.core.windows.net/j.jar",
                    "in",
                    "out",
                ]
            }
        ),
        "b",
    )
    first, second = (r.body for r in fake.calls("POST", "/livy/batches"))
    assert first["className"] == "com.example.Main" and first["numExecutors"] == 3
    assert first["driverMemory"] == "4g" and first["conf"] == {"spark.speculation": "true"}
    assert second["className"] == "org.example.Job" and second["args"] == ["in", "out"]
    assert second["conf"] == {"spark.executor.memory": "8g"}
    assert fake.violations == []


def test_pypi_libraries_are_refused_with_the_field_path(fake) -> None:
    with pytest.raises(InvalidRunRequest) as info:
        service(fake).submit(request(**PY_TASK, libraries=[{"pypi": {"package": "pandas"}}]), "k")
    assert info.value.path == "$.tasks[0].libraries[0]"
    assert fake.calls("POST", "/livy/batches") == []


def test_a_batch_livy_rejects_raises_a_clear_error(fake) -> None:
    with pytest.raises(InvalidRunRequest, match="Local path /tmp/job.py cannot be added"):
        service(fake).submit(request(spark_python_task={"python_file": "/tmp/job.py"}), "k")


def test_resubmitting_the_same_key_finds_the_existing_batch(fake) -> None:
    svc = service(fake)
    first = svc.submit(request(**PY_TASK), "same-key")
    again = svc.submit(request(**PY_TASK), "same-key")
    assert first.run_id == again.run_id and len(fake.batches) == 1


def test_429_waits_for_retry_after_and_5xx_is_retried(fake) -> None:
    svc = service(fake)
    fake.inject("/livy/batches", 429, retry_after="5", body={"msg": "throttled"})
    fake.inject("/livy/batches", 503, body={"msg": "gateway busy"})
    handle = svc.submit(request(**PY_TASK), "k")
    assert handle.run_id == "batch:0"
    assert len(fake.calls("POST", "/livy/batches")) == 3
    assert 5.0 in svc.sleeps  # type: ignore[attr-defined]


def test_5xx_beyond_the_budget_is_service_unavailable(fake) -> None:
    svc = service(fake, attempts=2)
    fake.inject("/livy/batches", 500, times=3, body={"msg": "down"})
    with pytest.raises(ServiceUnavailable):
        svc.submit(request(**PY_TASK), "k")


def test_states_map_from_livy_and_a_dead_batch_carries_its_last_log_line(fake) -> None:
    svc = service(fake)
    handle = svc.submit(request(**PY_TASK), "k")
    assert svc.get_state(handle).life_cycle is LifeCycle.PENDING
    fake.set_batch(0, "running")
    running = svc.get_state(handle)
    assert running.life_cycle is LifeCycle.RUNNING and running.cluster and running.cluster.cluster_id
    fake.set_batch(
        0,
        "dead",
        log=["stdout: ", "Traceback (most recent call last):", "ValueError: no input files under /raw/sales"],
    )
    dead = svc.get_state(handle)
    assert (dead.life_cycle, dead.result) == (LifeCycle.TERMINATED, ResultState.FAILED)
    assert "ValueError: no input files" in dead.message
    fake.set_batch(0, "success")
    assert svc.get_state(handle).result is ResultState.SUCCESS


def test_output_is_the_tail_of_the_batch_log(fake) -> None:
    svc = service(fake)
    svc._log_tail_lines = 3
    handle = svc.submit(request(**PY_TASK), "k")
    fake.set_batch(0, "success", log=[f"line {i}" for i in range(10)])
    out = svc.get_output(handle)
    assert out.tasks[0].logs == "line 7\nline 8\nline 9" and out.tasks[0].logs_truncated


def test_cancel_deletes_the_batch(fake) -> None:
    svc = service(fake)
    handle = svc.submit(request(**PY_TASK), "k")
    svc.cancel(handle)
    assert fake.calls("DELETE", "/livy/batches/0") and 0 not in fake.batches


def test_a_batch_past_its_deadline_is_killed_and_reported_timed_out(fake) -> None:
    svc = service(fake)
    handle = svc.submit(request(**PY_TASK, timeout_seconds=60), "k")
    assert handle.deadline is not None
    fake.set_batch(0, "running")
    late = handle.model_copy(update={"deadline": datetime.now(tz=UTC) - timedelta(seconds=1)})
    state = svc.get_state(late)
    assert state.result is ResultState.TIMEDOUT
    assert fake.calls("DELETE", "/livy/batches/0")


def test_hive_query_through_webhcat(fake) -> None:
    svc = service(fake)
    handle = svc.submit(
        request(hive_task={"query": "SELECT count(*) FROM sales", "defines": {"day": "1"}}), "h"
    )
    form = fake.calls("POST", "/templeton/v1/hive")[0].body
    assert form["user.name"] == ["admin"] and form["execute"] == ["SELECT count(*) FROM sales"]
    assert form["define"] == ["day=1"] and form["statusdir"][0].startswith("/jobclusters/status/")
    job_id = handle.run_id.split(":", 1)[1]
    fake.set_job(job_id, "RUNNING")
    assert svc.get_state(handle).life_cycle is LifeCycle.RUNNING
    fake.set_job(job_id, "SUCCEEDED", exit_value=0)
    assert svc.get_state(handle).result is ResultState.SUCCESS
    fake.set_job(job_id, "SUCCEEDED", exit_value=2)
    assert svc.get_state(handle).result is ResultState.FAILED, "a non-zero exit value fails the job"


def test_mapreduce_jar_failure_and_cancel(fake) -> None:
    svc = service(fake)
    handle = svc.submit(
        request(
            mapreduce_task={
                "jar": "/example/jars/wordcount.jar",
                "class_name": "WordCount",
                "args": ["/in", "/out"],
            }
        ),
        "m",
    )
    form = fake.calls("POST", "/templeton/v1/mapreduce/jar")[0].body
    assert form["jar"] == ["/example/jars/wordcount.jar"] and form["class"] == ["WordCount"]
    assert form["arg"] == ["/in", "/out"]
    job_id = handle.run_id.split(":", 1)[1]
    fake.set_job(job_id, "FAILED", exit_value=1, failure_info="Output directory /out already exists")
    failed = svc.get_state(handle)
    assert failed.result is ResultState.FAILED and "already exists" in failed.message
    svc.cancel(handle)
    assert fake.jobs[job_id].state == "KILLED"
    assert fake.violations == []


def test_wrong_login_is_an_error_that_does_not_echo_the_password(fake) -> None:
    with pytest.raises(ClusterJobError) as info:
        service(fake, password="wrong-secret-value").submit(request(**PY_TASK), "k")
    assert "401" in str(info.value) and "wrong-secret-value" not in str(info.value)
