"""The Synapse service (azure-synapse-spark SparkClient) against a loopback Spark batch API."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from azure.core.credentials import AccessToken

from jobclusters.services.cluster import (
    ClusterJobService,
    InvalidRunRequest,
    LifeCycle,
    ResultState,
    RunHandle,
    ServiceUnavailable,
    idempotency_token,
    parse_run_request,
)
from jobclusters.services.databricks import RUN_ID_TAG
from jobclusters.services.rate_limit import TokenBucket
from jobclusters.services.retries import BackoffPolicy
from jobclusters.services.synapse import SynapseClusterJobService
from tests.fakes.synapse_rest import FakeSynapse

SEED_POOL = Path(__file__).resolve().parents[3] / "examples" / "seed" / "synapse-spark-pool.json"
FILE = "abfss://jobs@datalake.dfs.core.windows.net/etl/transform.py"


class StaticCredential:
    def __init__(self, token: str) -> None:
        self.token = token

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(self.token, int(time.time()) + 3600)


@pytest.fixture
def fake() -> Iterator[FakeSynapse]:
    with FakeSynapse(pools=("sparkpool01", "bigpool")) as server:
        yield server


def service(
    fake: FakeSynapse, sleeps: list[float] | None = None, retry_total: int = 3
) -> SynapseClusterJobService:
    clock = [0.0]

    def advance(seconds: float) -> None:
        (sleeps if sleeps is not None else []).append(seconds)
        clock[0] += seconds

    bucket = TokenBucket(rate=100.0, capacity=100.0, clock=lambda: clock[0], sleep=advance)
    return SynapseClusterJobService(
        fake.url,
        "sparkpool01",
        credential=StaticCredential(fake.token),
        bucket=bucket,
        policy=BackoffPolicy(max_attempts=retry_total + 1, base_delay=0.01),
        sleep=advance,
        clock=lambda: clock[0],
        allow_http=True,
    )


def request(pool: dict[str, Any] | None = None, **task: Any) -> Any:
    payload = task or {"spark_python_task": {"python_file": FILE, "parameters": ["--day", "1"]}}
    data: dict[str, Any] = {
        "run_id": "run-5",
        "tags": {"Project": "Analytics"},
        "tasks": [{"task_key": "transform", **payload}],
    }
    if pool is not None:
        data["spark_pool"] = pool
    return parse_run_request(data)


def test_service_satisfies_the_protocol(fake) -> None:
    assert isinstance(service(fake), ClusterJobService)


def test_seed_pool_settings_shape_the_batch(fake) -> None:
    pool = json.loads(SEED_POOL.read_text())["properties"]
    svc = service(fake)
    handle = svc.submit(request(pool), "instance-3:transform")
    assert fake.violations == []
    post = fake.calls("POST", "/batches")[0]
    assert post.path == "/livyApi/versions/2019-11-01-preview/sparkPools/sparkpool01/batches"
    assert post.query.get("detailed") == ["true"]
    body = post.body
    assert body["name"] == idempotency_token("instance-3:transform")
    assert body["file"] == FILE and body["args"] == ["--day", "1"]
    assert (body["driverMemory"], body["driverCores"], body["executorMemory"], body["executorCores"]) == (
        "56g",
        8,
        "56g",
        8,
    )
    assert body["conf"]["spark.serializer"] == "org.apache.spark.serializer.KryoSerializer"
    assert body["conf"]["spark.dynamicAllocation.enabled"] == "true"
    assert (
        body["conf"]["spark.dynamicAllocation.minExecutors"],
        body["conf"]["spark.dynamicAllocation.maxExecutors"],
    ) == ("2", "19")
    assert body["numExecutors"] == 2
    assert body["tags"] == {"Project": "Analytics", RUN_ID_TAG: "run-5"}
    assert handle.run_id.startswith("sparkpool01/")


def test_job_conf_wins_over_pool_conf_and_pool_name_picks_the_pool(fake) -> None:
    pool = {
        "pool_name": "bigpool",
        "nodeSize": "Small",
        "nodeCount": 5,
        "sparkConfigProperties": {"spark.sql.shuffle.partitions": "200"},
    }
    svc = service(fake)
    handle = svc.submit(
        request(
            pool,
            spark_batch_task={"file": FILE, "conf": {"spark.sql.shuffle.partitions": "8"}, "pyFiles": [FILE]},
        ),
        "k",
    )
    body = fake.calls("POST", "/batches")[0].body
    assert body["conf"] == {"spark.sql.shuffle.partitions": "8"}
    assert body["numExecutors"] == 4 and body["executorCores"] == 4 and body["pyFiles"] == [FILE]
    assert handle.run_id.startswith("bigpool/")


def test_resubmitting_the_same_key_finds_the_existing_batch(fake) -> None:
    svc = service(fake)
    first = svc.submit(request(), "same-key")
    svc.submit(request(), "other-key")
    again = svc.submit(request(), "same-key")
    assert first.run_id == again.run_id and len(fake.batches) == 2
    assert len(fake.calls("POST", "/batches")) == 2


def test_a_rejected_batch_raises_a_clear_error(fake) -> None:
    with pytest.raises(InvalidRunRequest, match="InvalidFilePath|must be a path in the workspace"):
        service(fake).submit(request(spark_python_task={"python_file": "local/job.py"}), "k")


def test_more_than_one_task_is_refused(fake) -> None:
    data = {
        "run_id": "r",
        "tasks": [
            {"task_key": "a", "spark_python_task": {"python_file": FILE}},
            {"task_key": "b", "spark_python_task": {"python_file": FILE}},
        ],
    }
    with pytest.raises(InvalidRunRequest) as info:
        service(fake).submit(parse_run_request(data), "k")
    assert info.value.path == "$.tasks"


def test_429_honours_retry_after_and_pauses_the_bucket(fake) -> None:
    sleeps: list[float] = []
    svc = service(fake, sleeps)
    fake.inject(
        "/batches", 429, retry_after="1", body={"error": {"code": "TooManyRequests", "message": "slow"}}
    )
    handle = svc.submit(request(), "k")
    assert handle.run_id == "sparkpool01/1"
    assert len(fake.calls("GET", "/batches")) == 2, "the throttled call (the idempotency look-up) was retried"
    assert len(fake.calls("POST", "/batches")) == 1
    assert sleeps and sleeps[0] == pytest.approx(1.0, abs=0.01)


def test_5xx_is_retried_then_gives_up_as_unavailable(fake) -> None:
    svc = service(fake, retry_total=2)
    handle = svc.submit(request(), "k")
    fake.inject("/batches/1", 500, times=1, body={"error": {"code": "InternalError", "message": "oops"}})
    assert svc.get_state(handle).life_cycle is LifeCycle.PENDING
    fake.inject("/batches/1", 503, times=5, body={"error": {"code": "ServiceUnavailable", "message": "down"}})
    with pytest.raises(ServiceUnavailable):
        svc.get_state(handle)


def test_states_results_and_error_messages(fake) -> None:
    svc = service(fake)
    handle = svc.submit(request(), "k")
    fake.set_batch(1, "running")
    running = svc.get_state(handle)
    assert running.life_cycle is LifeCycle.RUNNING and running.start_time is not None
    fake.set_batch(
        1,
        "dead",
        errors=[
            {
                "message": "Job failed: ModuleNotFoundError: No module named 'x'",
                "errorCode": "PYTHON_ERROR",
                "source": "User",
            }
        ],
    )
    failed = svc.get_state(handle)
    assert (failed.life_cycle, failed.result) == (LifeCycle.TERMINATED, ResultState.FAILED)
    assert "ModuleNotFoundError" in failed.message and failed.end_time is not None
    fake.set_batch(1, "success", errors=[])
    assert svc.get_state(handle).result is ResultState.SUCCESS


def test_cancel_output_and_deadline(fake) -> None:
    svc = service(fake)
    handle = svc.submit(request(spark_python_task={"python_file": FILE}, timeout_seconds=600), "k")
    fake.set_batch(1, "running", log=["starting", "processed 10 rows"])
    assert svc.get_output(handle).tasks[0].logs == "starting\nprocessed 10 rows"
    late = handle.model_copy(update={"deadline": datetime.now(tz=UTC) - timedelta(seconds=1)})
    state = svc.get_state(late)
    assert state.result is ResultState.TIMEDOUT
    assert fake.calls("DELETE", "/batches/1")
    assert svc.get_state(handle).result is ResultState.CANCELED
    assert fake.violations == []


def test_connection_errors_are_retried_by_our_policy_then_unavailable() -> None:
    sleeps: list[float] = []
    with FakeSynapse(pools=("sparkpool01",)) as gone:
        svc = service(gone, sleeps, retry_total=2)
    with pytest.raises(ServiceUnavailable, match="get batch"):
        svc.get_state(RunHandle(backend="synapse", run_id="sparkpool01/1", idempotency_key="k"))
    assert len(sleeps) == 2 and all(s <= 0.02 for s in sleeps), sleeps
