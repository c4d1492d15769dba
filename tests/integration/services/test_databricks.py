"""The Databricks service against a loopback Jobs API 2.2 server (databricks-sdk's real HTTP client)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
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
from jobclusters.services.databricks import RUN_ID_TAG, DatabricksClusterJobService, workspace_client
from jobclusters.services.rate_limit import TokenBucket
from jobclusters.services.retries import BackoffPolicy
from tests.clocks import SleepClock
from tests.fakes.databricks_rest import FakeDatabricks

COST_TAGS = {"Project": "Sales", "Environment": "Test", "CostCenter": "CC1", "Owner": "DataEng"}


@pytest.fixture
def fake() -> Iterator[FakeDatabricks]:
    with FakeDatabricks() as server:
        yield server


@pytest.fixture
def clock() -> SleepClock:
    return SleepClock(1000.0)


def service(
    fake: FakeDatabricks,
    clock: SleepClock,
    *,
    token: str | None = None,
    credential: Any = None,
    attempts: int = 4,
) -> DatabricksClusterJobService:
    bucket = TokenBucket(rate=100.0, capacity=100.0, clock=clock.now, sleep=clock.sleep)
    policy = BackoffPolicy(max_attempts=attempts, base_delay=0.01, budget_seconds=60)
    client = workspace_client(
        fake.url,
        token=token if credential else (token or fake.token),
        credential=credential,
    )
    return DatabricksClusterJobService(
        client, bucket=bucket, policy=policy, sleep=clock.sleep, required_tags=tuple(COST_TAGS)
    )


def one_task(**task: Any) -> Any:
    base = {
        "task_key": "main",
        "spark_python_task": {"python_file": "dbfs:/jobs/main.py", "parameters": ["--x"]},
    }
    return parse_run_request({"run_id": "run-1", "tags": COST_TAGS, "tasks": [{**base, **task}]})


CLUSTER = {"spark_version": "15.4.x-scala2.12", "node_type_id": "Standard_DS3_v2"}


def test_service_satisfies_the_protocol(fake: FakeDatabricks, clock: SleepClock) -> None:
    assert isinstance(service(fake, clock), ClusterJobService)


def test_submit_sends_every_cluster_mode_as_a_documented_runs_submit_body(fake, clock) -> None:
    request = parse_run_request(
        {
            "run_id": "run-42",
            "run_name": "seed modes",
            "tags": COST_TAGS,
            "timeout_seconds": 3600,
            "job_clusters": [{"job_cluster_key": "shared", "new_cluster": {**CLUSTER, "num_workers": 2}}],
            "tasks": [
                {
                    "task_key": "single",
                    "new_cluster": {**CLUSTER, "num_workers": 0},
                    "python_wheel_task": {
                        "package_name": "data_processing",
                        "entry_point": "run",
                        "parameters": ["a"],
                    },
                    "libraries": [{"whl": "dbfs:/wheels/data_processing-1.0-py3-none-any.whl"}],
                },
                {
                    "task_key": "spot",
                    "depends_on": ["single"],
                    "new_cluster": {
                        **CLUSTER,
                        "num_workers": 2,
                        "autoscale": {"min_workers": 1, "max_workers": 8},
                        "azure_attributes": {
                            "availability": "SPOT_WITH_FALLBACK_AZURE",
                            "spot_bid_max_price": -1,
                        },
                        "spark_conf": {"spark.sql.adaptive.enabled": True},
                        "init_scripts": [{"workspace": {"destination": "/Shared/init.sh"}}],
                    },
                    "spark_python_task": {"python_file": "dbfs:/jobs/t.py", "parameters": ["--in", "x"]},
                    "libraries": [
                        {"pypi": {"package": "pandas==2.2.3"}},
                        {"maven": {"coordinates": "com.microsoft.azure:azure-storage:8.6.6"}},
                        {"jar": "dbfs:/jars/udf.jar"},
                    ],
                    "timeout_seconds": 1800,
                },
                {
                    "task_key": "isolated",
                    "new_cluster": {**CLUSTER, "num_workers": 6, "data_security_mode": "USER_ISOLATION"},
                    "notebook_task": {
                        "notebook_path": "/Shared/etl",
                        "base_parameters": {"date": "2026-01-01"},
                    },
                },
                {
                    "task_key": "gpu",
                    "new_cluster": {
                        "spark_version": "15.4.x-gpu-ml-scala2.12",
                        "node_type_id": "Standard_NC6s_v3",
                        "num_workers": 4,
                    },
                    "spark_submit_task": {"parameters": ["--class", "Main", "dbfs:/jars/train.jar"]},
                },
                {
                    "task_key": "shared_a",
                    "job_cluster_key": "shared",
                    "spark_jar_task": {"main_class_name": "com.example.Main"},
                    "libraries": [{"jar": "dbfs:/jars/main.jar"}],
                },
                {
                    "task_key": "existing",
                    "existing_cluster_id": "0923-164208-meows279",
                    "notebook_task": {"notebook_path": "/Shared/publish"},
                },
            ],
        }
    )
    svc = service(fake, clock)
    handle = svc.submit(request, "orchestration-7:all")

    assert fake.violations == []
    body = fake.submitted()[0]
    assert body["run_name"] == "seed modes"
    assert body["idempotency_token"] == "orchestration-7:all"
    assert body["timeout_seconds"] == 3600
    tasks = {t["task_key"]: t for t in body["tasks"]}
    single = tasks["single"]["new_cluster"]
    assert single["num_workers"] == 0
    assert single["spark_conf"]["spark.databricks.cluster.profile"] == "singleNode"
    assert single["spark_conf"]["spark.master"].startswith("local[*")
    assert single["custom_tags"]["ResourceClass"] == "SingleNode"
    spot = tasks["spot"]["new_cluster"]
    assert "num_workers" not in spot and spot["autoscale"] == {"min_workers": 1, "max_workers": 8}
    assert spot["azure_attributes"]["first_on_demand"] == 1
    assert spot["spark_conf"] == {"spark.sql.adaptive.enabled": "true"}
    assert spot["init_scripts"] == [{"workspace": {"destination": "/Shared/init.sh"}}]
    assert tasks["spot"]["depends_on"] == [{"task_key": "single"}]
    assert tasks["spot"]["timeout_seconds"] == 1800
    assert tasks["spot"]["libraries"] == [
        {"pypi": {"package": "pandas==2.2.3"}},
        {"maven": {"coordinates": "com.microsoft.azure:azure-storage:8.6.6"}},
        {"jar": "dbfs:/jars/udf.jar"},
    ]
    assert tasks["isolated"]["new_cluster"]["data_security_mode"] == "USER_ISOLATION"
    assert tasks["isolated"]["notebook_task"]["base_parameters"] == {"date": "2026-01-01"}
    assert tasks["gpu"]["new_cluster"]["spark_version"] == "15.4.x-gpu-ml-scala2.12"
    assert tasks["shared_a"]["new_cluster"]["num_workers"] == 2, "a job cluster is inlined as new_cluster"
    assert "job_cluster_key" not in tasks["shared_a"]
    assert tasks["existing"]["existing_cluster_id"] == "0923-164208-meows279"
    for key in ("single", "spot", "isolated", "gpu", "shared_a"):
        tags = tasks[key]["new_cluster"]["custom_tags"]
        assert tags[RUN_ID_TAG] == "run-42"
        assert {k: tags[k] for k in COST_TAGS} == COST_TAGS
    assert handle.backend == "databricks" and int(handle.run_id) in fake.runs


def test_same_idempotency_key_returns_the_same_run(fake, clock) -> None:
    svc = service(fake, clock)
    request = one_task(new_cluster={**CLUSTER, "num_workers": 1})
    long_key = "instance-" + "x" * 80 + ":task"
    first = svc.submit(request, long_key)
    again = svc.submit(request, long_key)
    assert first.run_id == again.run_id and len(fake.runs) == 1
    sent = fake.submitted()[0]["idempotency_token"]
    assert len(sent) <= 64 and sent == idempotency_token(long_key) and sent != long_key[:64]


def test_a_spec_the_api_rejects_with_400_raises_a_clear_error(fake, clock) -> None:
    request = one_task(
        new_cluster={**CLUSTER, "num_worker": 2, "autoscale": {"min_workers": 1, "max_workers": 2}}
    )
    with pytest.raises(InvalidRunRequest, match=r"num_worker is not a cluster field"):
        service(fake, clock).submit(request, "k")


def test_gpu_runtime_on_a_cpu_node_type_is_refused_before_any_call(fake, clock) -> None:
    request = one_task(
        new_cluster={
            "spark_version": "15.4.x-gpu-ml-scala2.12",
            "node_type_id": "Standard_DS3_v2",
            "num_workers": 1,
        }
    )
    with pytest.raises(InvalidRunRequest) as info:
        service(fake, clock).submit(request, "k")
    assert info.value.path == "$.tasks[0].new_cluster.node_type_id"
    assert fake.submitted() == []


def test_missing_cost_tag_names_the_field(fake, clock) -> None:
    request = parse_run_request(
        {
            "run_id": "r",
            "tags": {"Project": "p"},
            "tasks": [
                {
                    "task_key": "t",
                    "new_cluster": {**CLUSTER, "num_workers": 1},
                    "notebook_task": {"notebook_path": "/a"},
                }
            ],
        }
    )
    with pytest.raises(InvalidRunRequest, match="Environment, CostCenter, Owner") as info:
        service(fake, clock).submit(request, "k")
    assert info.value.path == "$.tasks[0].new_cluster.custom_tags"


def test_429_is_retried_after_the_servers_retry_after(fake, clock) -> None:
    fake.inject(
        "/runs/submit",
        429,
        retry_after="7",
        body={"error_code": "REQUEST_LIMIT_EXCEEDED", "message": "rate limit"},
    )
    handle = service(fake, clock).submit(one_task(new_cluster={**CLUSTER, "num_workers": 1}), "k")
    assert int(handle.run_id) in fake.runs
    assert len(fake.calls("POST", "/runs/submit")) == 2
    assert any(s >= 7 for s in clock.sleeps), clock.sleeps


def test_5xx_is_retried_with_backoff(fake, clock) -> None:
    svc = service(fake, clock)
    handle = svc.submit(one_task(new_cluster={**CLUSTER, "num_workers": 1}), "k")
    fake.inject("/runs/get", 500, times=2, body={"error_code": "INTERNAL_ERROR", "message": "boom"})
    state = svc.get_state(handle)
    assert state.life_cycle is LifeCycle.PENDING
    assert len(fake.calls("GET", "/runs/get")) == 3


def test_5xx_beyond_the_retry_budget_is_service_unavailable(fake, clock) -> None:
    svc = service(fake, clock, attempts=2)
    handle = svc.submit(one_task(new_cluster={**CLUSTER, "num_workers": 1}), "k")
    fake.inject("/runs/get", 502, times=5, body={"error_code": "INTERNAL_ERROR", "message": "bad gateway"})
    with pytest.raises(ServiceUnavailable, match="runs/get"):
        svc.get_state(handle)


def test_run_terminated_failed_carries_the_message(fake, clock) -> None:
    svc = service(fake, clock)
    handle = svc.submit(one_task(new_cluster={**CLUSTER, "num_workers": 1}), "k")
    run_id = int(handle.run_id)
    fake.set_task(run_id, "main", "RUNNING")
    running = svc.get_state(handle)
    assert running.life_cycle is LifeCycle.RUNNING and running.tasks[0].cluster is not None
    fake.set_task(run_id, "main", "TERMINATED", "FAILED", "ZeroDivisionError: division by zero")
    state = svc.get_state(handle)
    assert state.life_cycle is LifeCycle.TERMINATED and state.result is ResultState.FAILED
    assert "ZeroDivisionError" in state.message
    assert state.tasks[0].result is ResultState.FAILED and state.end_time is not None


def test_timed_out_task_maps_to_timedout(fake, clock) -> None:
    svc = service(fake, clock)
    handle = svc.submit(one_task(new_cluster={**CLUSTER, "num_workers": 1}, timeout_seconds=60), "k")
    fake.set_task(int(handle.run_id), "main", "TERMINATED", "TIMEDOUT", "Task timed out after 60s")
    assert svc.get_state(handle).result is ResultState.TIMEDOUT


def test_state_of_a_run_with_more_than_100_tasks_reads_every_page(fake, clock) -> None:
    tasks = [
        {"task_key": f"t{i:03d}", "existing_cluster_id": "c1", "notebook_task": {"notebook_path": "/n"}}
        for i in range(150)
    ]
    svc = service(fake, clock)
    handle = svc.submit(parse_run_request({"run_id": "big", "tasks": tasks}), "big")
    fake.set_task(int(handle.run_id), "t149", "TERMINATED", "FAILED", "last one failed")
    state = svc.get_state(handle)
    assert [t.task_key for t in state.tasks] == [f"t{i:03d}" for i in range(150)]
    assert state.tasks[149].result is ResultState.FAILED
    pages = fake.calls("GET", "/runs/get")
    assert [r.query.get("page_token") for r in pages] == [None, ["p100"]]


def test_cancel_then_output_per_task_run(fake, clock) -> None:
    request = parse_run_request(
        {
            "run_id": "r",
            "tags": COST_TAGS,
            "tasks": [
                {"task_key": "a", "existing_cluster_id": "c1", "notebook_task": {"notebook_path": "/a"}},
                {
                    "task_key": "b",
                    "depends_on": ["a"],
                    "existing_cluster_id": "c1",
                    "spark_python_task": {"python_file": "dbfs:/b.py"},
                },
            ],
        }
    )
    svc = service(fake, clock)
    handle = svc.submit(request, "k")
    run_id = int(handle.run_id)
    fake.set_task(run_id, "a", "TERMINATED", "SUCCESS", output={"notebook_result": "42", "logs": "ok"})
    fake.set_task(
        run_id, "b", "RUNNING", output={"logs": "x" * 100, "error": "boom", "error_trace": "Traceback"}
    )
    svc.cancel(handle)
    state = svc.get_state(handle)
    assert state.result is ResultState.CANCELED
    assert [(t.task_key, t.result) for t in state.tasks] == [
        ("a", ResultState.SUCCESS),
        ("b", ResultState.CANCELED),
    ]
    out = svc.get_output(handle)
    assert out.task("a").notebook_result == "42"
    assert out.task("b").error == "boom" and out.task("b").error_trace == "Traceback"
    outputs = fake.calls("GET", "/runs/get-output")
    assert sorted(int(r.query["run_id"][0]) for r in outputs) == sorted(
        t.run_id for t in fake.runs[run_id].tasks
    )
    assert fake.violations == []


def test_the_token_is_never_logged(fake, clock, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    svc = service(fake, clock)
    fake.inject("/runs/submit", 503, retry_after="1")
    svc.submit(one_task(new_cluster={**CLUSTER, "num_workers": 1}), "k")
    assert fake.token not in caplog.text


def test_azure_ad_token_from_an_azure_identity_credential(fake, clock) -> None:
    class StaticCredential:
        def __init__(self) -> None:
            self.scopes: list[str] = []

        def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
            self.scopes.extend(scopes)
            return AccessToken("aad-token-for-test", int(time.time()) + 3600)

    fake.token = "aad-token-for-test"
    credential = StaticCredential()
    svc = service(fake, clock, credential=credential)
    handle = svc.submit(one_task(new_cluster={**CLUSTER, "num_workers": 1}), "k")
    assert int(handle.run_id) in fake.runs and fake.violations == []
    assert credential.scopes == ["2ff814a6-3304-4ab8-85cb-cd0e6f879c1d/.default"] * len(credential.scopes)


def test_connection_errors_are_retried_by_our_policy_not_the_sdks_loop(clock) -> None:
    with FakeDatabricks() as gone:
        client = workspace_client(gone.url, token=gone.token)
    bucket = TokenBucket(rate=100.0, capacity=100.0, clock=clock.now, sleep=clock.sleep)
    svc = DatabricksClusterJobService(
        client, bucket=bucket, policy=BackoffPolicy(max_attempts=3, base_delay=0.01), sleep=clock.sleep
    )
    with pytest.raises(ServiceUnavailable, match="runs/get"):
        svc.get_state(RunHandle(backend="databricks", run_id="1", idempotency_key="k"))
    assert len(clock.sleeps) == 2 and all(s <= 0.02 for s in clock.sleeps), clock.sleeps


def _event(kind: str, at_s: int, workers: int | None = None) -> dict[str, Any]:
    details = {} if workers is None else {"current_num_workers": workers}
    return {"cluster_id": "", "timestamp": at_s * 1000, "type": kind, "details": details}


def test_node_samples_come_from_the_run_clusters_events_in_the_documented_shape(fake, clock) -> None:
    """Autoscale 2..6: RUNNING at 2, upsized to 6, a spot node lost (5), then the run ends; events of
    other kinds are not asked for, and 60 events page through `next_page`."""
    svc = service(fake, clock)
    handle = svc.submit(
        one_task(new_cluster={**CLUSTER, "autoscale": {"min_workers": 2, "max_workers": 6}}), "k"
    )
    run_id = int(handle.run_id)
    fake.set_task(run_id, "main", "RUNNING")
    cluster_id = f"0101-{fake.runs[run_id].tasks[0].run_id}-fake"
    noise = [_event("DRIVER_HEALTHY", 1000 + i) for i in range(60)]
    fake.cluster_events[cluster_id] = [
        _event("CREATING", 900),
        _event("RUNNING", 1000, 2),
        *noise,
        _event("RESIZING", 1100, 2),
        _event("UPSIZE_COMPLETED", 1200, 6),
        _event("NODES_LOST", 1500, 5),
        *[_event("UPSIZE_COMPLETED", 1600 + i, 5) for i in range(60)],
    ]
    fake.set_task(run_id, "main", "TERMINATED", "SUCCESS")
    fake.set_times(run_id, "main", start_time=1_000_000, setup=0, execution=800_000)

    samples = svc.node_samples(handle)

    times = [int(at.timestamp()) for at, _ in samples]
    assert [n for _, n in samples][:5] == [2, 2, 6, 5, 5]
    assert times[:4] == [1000, 1100, 1200, 1500] and times == sorted(times)
    assert len(samples) == 4 + 60 + 1 and samples[-1] == (samples[-1][0], 5)
    assert times[-1] == 1800, "closed at the run's end with the last count"
    calls = [r for r in fake.requests if r.path.endswith("/clusters/events")]
    assert len(calls) >= 2, "the events were read page by page"
    assert "DRIVER_HEALTHY" not in calls[0].body["event_types"]
    assert fake.violations == []


def test_no_node_samples_for_an_existing_cluster(fake, clock) -> None:
    svc = service(fake, clock)
    handle = svc.submit(one_task(existing_cluster_id="0101-shared"), "k")
    fake.set_task(int(handle.run_id), "main", "TERMINATED", "SUCCESS")
    assert svc.node_samples(handle) == []
    assert not [r for r in fake.requests if r.path.endswith("/clusters/events")]
