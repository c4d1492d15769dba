"""Issue 13 defect 4: the sweeper deletes every pool the app created whose attempt has ended, found by the
owner metadata, on the local executor for real and on Azure Batch at the HTTP boundary (the REST fake);
and cancels the Databricks runs (so their job clusters) whose attempt has ended, found by custom_tags."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from azure.core.credentials import AzureNamedKeyCredential

from jobclusters.execution.sweeper import sweep_cluster_runs, sweep_pools
from jobclusters.services.azure_batch import AzureBatchService
from jobclusters.services.batch import BatchService, PoolPlacement, PoolSpec
from jobclusters.services.cluster import parse_run_request
from jobclusters.services.local_batch import LocalBatchService
from jobclusters.services.retries import BackoffPolicy
from tests.clocks import SleepClock
from tests.fakes.batch_rest import FakeBatchServer
from tests.fakes.databricks_rest import FakeDatabricks
from tests.integration.services.test_databricks import CLUSTER, COST_TAGS, service

pytestmark = pytest.mark.integration

STATUSES = {"attempt-done": "Completed", "attempt-failed": "Failed", "attempt-live": "Running"}


async def status_of(instance_id: str) -> str | None:
    return STATUSES.get(instance_id)  # "attempt-purged" no longer exists


def _pools(batch: BatchService) -> None:
    for owner in ("attempt-done", "attempt-failed", "attempt-live", "attempt-purged"):
        spec = PoolSpec(id=f"pool-{owner}", vm_size="standard_d2s_v3", target_dedicated_nodes=1)
        batch.ensure_pool(PoolPlacement(mode="onDemand", pool=spec), owner=owner)


def _check(batch: BatchService, remaining: set[str]) -> None:
    deleted = asyncio.run(sweep_pools(batch, status_of))
    assert sorted(deleted) == ["pool-attempt-done", "pool-attempt-failed", "pool-attempt-purged"]
    assert {p.pool_id for p in batch.list_owned_pools()} == {"pool-attempt-live"}
    assert asyncio.run(sweep_pools(batch, status_of)) == [], "a second sweep finds nothing more"


def test_the_sweeper_deletes_ended_attempts_pools_on_the_local_executor(tmp_path: Path) -> None:
    with LocalBatchService(tmp_path / "state", max_slots=2) as batch:
        _pools(batch)
        _check(batch, {"pool-attempt-live"})


@pytest.fixture
def azure() -> Iterator[tuple[FakeBatchServer, AzureBatchService]]:
    with FakeBatchServer() as fake:
        svc = AzureBatchService(
            fake.url,
            AzureNamedKeyCredential(fake.account_name, fake.account_key),
            retry=BackoffPolicy(max_attempts=2, base_delay=0.01, max_delay=0.05, budget_seconds=None),
        )
        try:
            yield fake, svc
        finally:
            svc.close()
        assert fake.state.violations == []


def test_the_sweeper_deletes_ended_attempts_pools_on_azure_batch(azure) -> None:
    fake, batch = azure
    _pools(batch)
    fake.state.pools["someone-elses"] = {"id": "someone-elses", "vmSize": "x", "metadata": []}
    _check(batch, {"pool-attempt-live"})
    assert set(fake.state.pools) == {"pool-attempt-live", "someone-elses"}, "pools not ours stay"


def test_the_sweeper_cancels_databricks_runs_of_ended_attempts() -> None:
    with FakeDatabricks() as fake:
        clusters = service(fake, SleepClock(1000.0))
        ids = {}
        for owner in ("attempt-done", "attempt-live", "attempt-purged"):
            task = {"task_key": "main", "spark_python_task": {"python_file": "dbfs:/x.py"}}
            if owner == "attempt-purged":  # a shared job cluster carries the tag
                body = {
                    "job_clusters": [{"job_cluster_key": "c", "new_cluster": {**CLUSTER, "num_workers": 1}}]
                }
                task["job_cluster_key"] = "c"
            else:
                body = {}
                task["new_cluster"] = {**CLUSTER, "num_workers": 1}
            request = parse_run_request({"run_id": owner, "tags": COST_TAGS, "tasks": [task], **body})
            ids[owner] = clusters.submit(request, f"key-{owner}").run_id
        fake.set_all(int(ids["attempt-done"]), "RUNNING")

        canceled = asyncio.run(sweep_cluster_runs(clusters, status_of))

        assert sorted(canceled) == sorted([ids["attempt-done"], ids["attempt-purged"]])
        assert sorted(run for run, _ in clusters.list_owned_runs()) == [ids["attempt-live"]]
        assert fake.violations == []
