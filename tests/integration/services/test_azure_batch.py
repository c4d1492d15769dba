"""AzureBatchService at the HTTP boundary, against a loopback server speaking the Batch REST API."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from azure.core.credentials import AzureNamedKeyCredential

from jobclusters.services.azure_batch import AzureBatchService
from jobclusters.services.batch import (
    BatchServiceError,
    JobSpec,
    PoolInformation,
    PoolPlacement,
    PoolSpec,
    TaskSpec,
    make_task_id,
    pool_from_rest,
)
from jobclusters.services.retries import BackoffPolicy
from jobclusters.settings import Settings
from tests.fakes.batch_rest import FakeBatchServer


@pytest.fixture
def fake() -> Iterator[FakeBatchServer]:
    with FakeBatchServer() as server:
        yield server
        assert server.state.violations == [], "the client sent requests the Batch REST API rejects"


@pytest.fixture
def service(fake: FakeBatchServer) -> Iterator[AzureBatchService]:
    svc = AzureBatchService(
        fake.url,
        AzureNamedKeyCredential(fake.account_name, fake.account_key),
        retry=BackoffPolicy(
            max_attempts=4, base_delay=0.01, max_delay=0.2, budget_seconds=None, max_retry_after=0.2
        ),
    )
    yield svc
    svc.close()


def _pool(**kw) -> PoolSpec:
    return PoolSpec(
        id="pool-1",
        vm_size="Standard_D2s_v3",
        target_dedicated_nodes=1,
        target_low_priority_nodes=3,
        task_slots_per_node=4,
        **kw,
    )


def _tasks(n: int, run: str = "run-1", pad: int = 0) -> list[TaskSpec]:
    return [TaskSpec(id=make_task_id(run, i), command_line=f"echo {i} {'x' * pad}") for i in range(n)]


def test_on_demand_pool_is_created_once_and_reports_compute(service, fake):
    ref = service.ensure_pool(PoolPlacement(mode="onDemand", pool=_pool()), owner="run-1")
    again = service.ensure_pool(PoolPlacement(mode="onDemand", pool=_pool()), owner="run-1")
    assert ref.created and again.created, "a retried create by the same owner still owns the pool"
    assert (ref.vm_size, ref.node_count, ref.low_priority) == ("Standard_D2s_v3", 4, True)
    posts = [r for r in fake.state.requests if r.method == "POST" and r.path == "/pools"]
    assert [r.status for r in posts] == [201, 409]
    assert fake.state.pools["pool-1"]["metadata"] == [{"name": "jobclusters-owner", "value": "run-1"}]


def test_pool_created_by_someone_else_is_never_deleted(service, fake):
    service.ensure_pool(PoolPlacement(mode="onDemand", pool=_pool()), owner="run-1")
    foreign = service.ensure_pool(PoolPlacement(mode="onDemand", pool=_pool()), owner="run-2")
    assert not foreign.created
    assert service.delete_pool(foreign) is False
    existing = service.ensure_pool(PoolPlacement(mode="existing", pool_id="pool-1"), owner="run-3")
    assert existing.node_count == 4
    assert service.delete_pool(existing) is False
    assert "pool-1" in fake.state.pools


def test_on_demand_pool_is_deleted_by_its_owner(service, fake):
    ref = service.ensure_pool(PoolPlacement(mode="onDemand", pool=_pool()), owner="run-1")
    assert service.delete_pool(ref) is True
    assert "pool-1" not in fake.state.pools
    assert service.delete_pool(ref) is True, "deleting twice is not an error"


def test_existing_pool_that_does_not_exist_raises_pool_not_found(service):
    with pytest.raises(BatchServiceError) as err:
        service.ensure_pool(PoolPlacement(mode="existing", pool_id="missing"), owner="r")
    assert err.value.code == "PoolNotFound"


def test_autopool_job_sends_auto_pool_specification(service, fake):
    ref = service.ensure_pool(
        PoolPlacement(mode="autoPool", pool=_pool(), auto_pool_id_prefix="jc"), owner="run-1"
    )
    service.create_job(JobSpec(id="job-auto", pool_info=ref.pool_info()))
    info = fake.state.jobs["job-auto"].body["poolInfo"]
    assert info["autoPoolSpecification"]["autoPoolIdPrefix"] == "jc"
    assert info["autoPoolSpecification"]["pool"]["vmSize"] == "Standard_D2s_v3"
    assert "id" not in info["autoPoolSpecification"]["pool"]
    assert service.delete_pool(ref) is False


def test_create_job_is_idempotent_and_sends_documented_fields(service, fake, monkeypatch):
    monkeypatch.setenv("JC_TEST_STORAGE_KEY", "value-from-app-settings")
    job = JobSpec.model_validate(
        {
            "id": "job-1",
            "poolInfo": {"poolId": "pool-1"},
            "usesTaskDependencies": True,
            "onAllTasksComplete": "terminateJob",
            "constraints": {"maxWallClockTime": "PT1H", "maxTaskRetryCount": 2},
            "commonEnvironmentSettings": [{"name": "STORAGE_KEY", "secretRef": "JC_TEST_STORAGE_KEY"}],
            "jobPreparationTask": {"commandLine": "echo prep"},
            "jobReleaseTask": {"commandLine": "echo release"},
        }
    )
    service.create_job(job)
    service.create_job(job)
    body = fake.state.jobs["job-1"].body
    assert body["commonEnvironmentSettings"] == [{"name": "STORAGE_KEY", "value": "value-from-app-settings"}]
    assert body["constraints"] == {"maxWallClockTime": "PT1H", "maxTaskRetryCount": 2}
    assert body["jobPreparationTask"]["commandLine"] == "echo prep"
    statuses = [r.status for r in fake.state.requests if r.path == "/jobs"]
    assert statuses == [201, 409]


def test_add_tasks_sends_100_task_chunks_in_parallel_and_returns_ids_in_order(service, fake):
    service.create_job(JobSpec(id="job-1", pool_info=PoolInformation(pool_id="p")))
    tasks = _tasks(1050)
    result = service.add_tasks("job-1", tasks)
    assert result.added == [t.id for t in tasks]
    assert result.failed == []
    counts = sorted(r.task_count for r in fake.task_requests())
    assert counts == [50] + [100] * 10
    assert sorted(fake.task_ids("job-1")) == sorted(t.id for t in tasks)


def test_retrying_add_tasks_never_duplicates_and_counts_existing_as_added(service, fake):
    service.create_job(JobSpec(id="job-1", pool_info=PoolInformation(pool_id="p")))
    tasks = _tasks(120)
    service.add_tasks("job-1", tasks[:70])
    result = service.add_tasks("job-1", tasks)
    assert result.added == [t.id for t in tasks]
    assert len(fake.task_ids("job-1")) == 120


def test_large_tasks_are_split_under_the_1mb_body_limit(service, fake):
    service.create_job(JobSpec(id="job-1", pool_info=PoolInformation(pool_id="p")))
    tasks = _tasks(60, pad=40_000)
    result = service.add_tasks("job-1", tasks)
    assert len(result.added) == 60
    assert all(r.body_bytes < 1024 * 1024 for r in fake.task_requests())
    assert [r.status for r in fake.task_requests()] == [200] * len(fake.task_requests())


def test_request_body_too_large_splits_the_chunk_and_retries(service, fake):
    service.create_job(JobSpec(id="job-1", pool_info=PoolInformation(pool_id="p")))
    fake.inject("POST", "/addtaskcollection", 413, "RequestBodyTooLarge")
    result = service.add_tasks("job-1", _tasks(100))
    assert len(result.added) == 100
    sizes = [(r.status, r.task_count) for r in fake.task_requests()]
    assert sizes[0][0] == 413
    assert sorted(c for s, c in sizes[1:]) == [50, 50]


def test_throttling_honours_retry_after(service, fake):
    service.create_job(JobSpec(id="job-1", pool_info=PoolInformation(pool_id="p")))
    fake.inject("POST", "/addtaskcollection", 429, "TooManyRequests", retry_after=0.15)
    started = time.monotonic()
    result = service.add_tasks("job-1", _tasks(10))
    assert time.monotonic() - started >= 0.15
    assert len(result.added) == 10
    assert [r.status for r in fake.task_requests()] == [429, 200]


def test_server_errors_are_retried_then_surface_with_the_batch_code(service, fake):
    fake.inject("GET", "/taskcounts", 503, "ServerBusy", times=2)
    service.create_job(JobSpec(id="job-1", pool_info=PoolInformation(pool_id="p")))
    assert service.get_task_counts("job-1").active == 0
    fake.inject("GET", "/taskcounts", 500, "InternalError", times=10)
    with pytest.raises(BatchServiceError) as err:
        service.get_task_counts("job-1")
    assert (err.value.code, err.value.status) == ("InternalError", 500)


def test_client_error_for_one_task_is_reported_not_raised(service, fake):
    service.create_job(JobSpec(id="job-1", pool_info=PoolInformation(pool_id="p")))
    bad = TaskSpec.model_validate({"id": "t-dep", "commandLine": "x", "dependsOn": {"taskIds": ["t-0"]}})
    result = service.add_tasks("job-1", [TaskSpec(id="t-0", command_line="x"), bad])
    assert result.added == ["t-0"]
    assert [(f.task_id, f.code) for f in result.failed] == [("t-dep", "TaskDependenciesNotSpecifiedOnJob")]


def test_task_counts_and_failed_tasks_come_from_the_service(service, fake):
    service.create_job(JobSpec(id="job-1", pool_info=PoolInformation(pool_id="p")))
    tasks = _tasks(5)
    service.add_tasks("job-1", tasks)
    fake.finish_task("job-1", tasks[0].id, exit_code=0)
    fake.finish_task("job-1", tasks[1].id, exit_code=3, retry_count=2)
    fake.set_running("job-1", tasks[2].id)
    counts = service.get_task_counts("job-1")
    assert (counts.active, counts.running, counts.completed, counts.succeeded, counts.failed) == (
        2,
        1,
        2,
        1,
        1,
    )
    failed = service.list_failed_tasks("job-1")
    assert [(f.task_id, f.exit_code, f.retry_count, f.code) for f in failed] == [
        (tasks[1].id, 3, 2, "FailureExitCode")
    ]
    query = [r.query for r in fake.state.requests if r.path.endswith("/tasks")][0]
    assert query["$filter"] == "state eq 'completed' and executionInfo/result eq 'failure'"


def test_failed_tasks_are_read_across_pages(service, fake):
    service.create_job(JobSpec(id="job-1", pool_info=PoolInformation(pool_id="p")))
    tasks = _tasks(1500)
    service.add_tasks("job-1", tasks)
    for t in tasks:
        fake.finish_task("job-1", t.id, exit_code=1)
    assert len(service.list_failed_tasks("job-1")) == 1500
    assert len([r for r in fake.state.requests if r.path.endswith("/tasks")]) == 2


def test_terminate_and_delete_job_are_idempotent(service, fake):
    service.create_job(JobSpec(id="job-1", pool_info=PoolInformation(pool_id="p")))
    service.terminate_job("job-1")
    service.terminate_job("job-1")
    assert fake.state.jobs["job-1"].state == "completed"
    service.delete_job("job-1")
    service.delete_job("job-1")
    assert "job-1" not in fake.state.jobs


def test_wrong_key_is_refused_by_the_signature_check(fake):
    svc = AzureBatchService(
        fake.url,
        AzureNamedKeyCredential(fake.account_name, "d3Jvbmcta2V5"),
        retry=BackoffPolicy(max_attempts=1),
    )
    with pytest.raises(BatchServiceError) as err:
        svc.get_task_counts("job-1")
    assert err.value.code == "AuthenticationFailed"
    fake.state.violations.clear()


def test_from_settings_uses_the_shared_key_and_never_logs_it(fake, caplog):
    settings = Settings.from_mapping(
        {
            "BATCH_ACCOUNT_URL": fake.url,
            "BATCH_ACCOUNT_NAME": fake.account_name,
            "BATCH_ACCOUNT_KEY": fake.account_key,
        }
    )
    svc = AzureBatchService.from_settings(settings, retry=BackoffPolicy(max_attempts=1))
    svc.create_job(JobSpec(id="job-s", pool_info=PoolInformation(pool_id="p")))
    assert "job-s" in fake.state.jobs
    assert fake.account_key not in caplog.text
    assert fake.account_key not in json.dumps(settings.model_dump(mode="json"))


def test_seed_pool_json_is_accepted_by_the_service_as_a_pool_add_body(service, fake):
    seed = Path(__file__).resolve().parents[3] / "examples" / "seed"
    for name in ("batch-pool-basic.json", "batch-pool-gpu.json"):
        pool = pool_from_rest(json.loads((seed / name).read_text()))
        ref = service.ensure_pool(PoolPlacement(mode="onDemand", pool=pool), owner="run-1")
        assert ref.created
        body = fake.state.pools[pool.id]
        assert body["vmSize"] == pool.vm_size and body["taskSlotsPerNode"] == pool.task_slots_per_node
        assert {"name": "jobclusters-owner", "value": "run-1"} in body["metadata"]
    assert fake.state.pools["batch-job-pool"]["autoScaleEvaluationInterval"] == "PT5M"
    assert fake.state.pools["gpu-ml-pool"]["targetLowPriorityNodes"] == 8
    assert fake.state.pools["gpu-ml-pool"]["startTask"]["waitForSuccess"] is True


def test_start_task_secret_refs_are_resolved_only_on_the_wire(service, fake, monkeypatch):
    monkeypatch.setenv("JC_TEST_PIP_TOKEN", "wire-only")
    pool = PoolSpec.model_validate(
        {
            "id": "p-secret",
            "vmSize": "v",
            "targetDedicatedNodes": 1,
            "startTask": {
                "commandLine": "echo",
                "environmentSettings": [{"name": "PIP_TOKEN", "secretRef": "JC_TEST_PIP_TOKEN"}],
            },
        }
    )
    ref = service.ensure_pool(PoolPlacement(mode="onDemand", pool=pool), owner="r")
    assert "wire-only" not in ref.model_dump_json()
    assert fake.state.pools["p-secret"]["startTask"]["environmentSettings"] == [
        {"name": "PIP_TOKEN", "value": "wire-only"}
    ]


def test_per_task_server_errors_are_resent_and_both_status_spellings_are_understood(service, fake):
    service.create_job(JobSpec(id="job-1", pool_info=PoolInformation(pool_id="p")))
    tasks = _tasks(30)
    fake.state.task_server_errors = {tasks[3].id, tasks[17].id}
    fake.state.status_names = {"success": "Success", "client": "ClientError", "server": "ServerError"}
    result = service.add_tasks("job-1", tasks)
    assert result.added == [t.id for t in tasks] and result.failed == []
    assert [r.task_count for r in fake.task_requests()] == [30, 2]
    fake.state.status_names = {"success": "success", "client": "clienterror", "server": "servererror"}
    again = service.add_tasks("job-1", tasks)
    assert again.added == [t.id for t in tasks], "TaskExists in the lower-case spelling counts as added"


def test_pool_nodes_are_the_current_dedicated_and_low_priority_counts(service, fake):
    ref = service.ensure_pool(PoolPlacement(mode="onDemand", pool=_pool()), owner="run-1")
    assert ref.pool_id is not None
    assert service.get_pool_nodes(ref.pool_id) == 4, "allocated to its targets: 1 dedicated + 3 low"
    fake.state.current_nodes[ref.pool_id] = (1, 0)
    assert service.get_pool_nodes(ref.pool_id) == 1, "the low-priority nodes were evicted"
    gets = [r for r in fake.state.requests if r.method == "GET" and r.path == f"/pools/{ref.pool_id}"]
    assert len(gets) == 2
    assert "currentLowPriorityNodes" in gets[0].query.get("$select", "")
    service.delete_pool(ref)
    assert service.get_pool_nodes(ref.pool_id) is None, "a deleted pool has no nodes, and is no error"
