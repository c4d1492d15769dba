from __future__ import annotations

from typing import Any

import pytest

from jobclusters.execution.batch_mapping import (
    BatchMappingError,
    chunk_ranges,
    compute_info,
    environment_settings,
    job_spec,
    pool_placement,
    task_spec,
)
from jobclusters.execution.messages import TaskRunInput
from jobclusters.services.batch import PoolRef
from jobclusters.spec.model import CommandPayload, JobCluster, Task

BATCH_POOL = {
    "id": "seed-pool",
    "vmSize": "standard_d4s_v3",
    "targetDedicatedNodes": 1,
    "targetLowPriorityNodes": 3,
    "taskSlotsPerNode": 2,
    "virtualMachineConfiguration": {
        "imageReference": {
            "publisher": "canonical",
            "offer": "ubuntu",
            "sku": "22_04-lts",
            "version": "latest",
        },
        "nodeAgentSkuId": "batch.node.ubuntu 22.04",
    },
}


def run_input(task: dict[str, Any], **fields: Any) -> TaskRunInput:
    return TaskRunInput(
        run_id="run-1", control_id="run-1", job_id="j", job_name="J", task=Task.model_validate(task), **fields
    )


def command_task(**extra: Any) -> dict[str, Any]:
    return {"key": "t", "payload": {"kind": "command", "command_line": "echo hi"}, **extra}


def test_without_compute_an_attempt_gets_its_own_small_on_demand_pool() -> None:
    placement = pool_placement(run_input(command_task()), "run-1:t:r0:a0")
    assert placement.mode == "onDemand" and placement.pool is not None
    assert placement.pool.id == pool_placement(run_input(command_task()), "run-1:t:r0:a0").pool.id  # type: ignore[union-attr]
    assert placement.pool.id != pool_placement(run_input(command_task()), "run-1:t:r0:a1").pool.id  # type: ignore[union-attr]


def test_a_named_pool_is_an_existing_pool() -> None:
    placement = pool_placement(run_input(command_task(compute={"kind": "pool", "cluster_id": "shared"})), "a")
    assert (placement.mode, placement.pool_id) == ("existing", "shared")


def test_a_new_batch_cluster_keeps_its_home_pool_json_under_the_attempt_pool_id() -> None:
    cluster = {"platform": "batch", "node_type": "standard_d4s_v3", "home": BATCH_POOL}
    placement = pool_placement(
        run_input(command_task(compute={"kind": "new_cluster", "cluster": cluster})), "a"
    )
    assert placement.mode == "onDemand" and placement.pool is not None
    assert placement.pool.vm_size == "standard_d4s_v3"
    assert placement.pool.target_low_priority_nodes == 3 and placement.pool.task_slots_per_node == 2
    assert placement.pool.id != "seed-pool"


def test_a_spot_cluster_without_home_json_asks_for_low_priority_nodes() -> None:
    cluster = {
        "platform": "batch",
        "node_type": "standard_d2s_v3",
        "num_workers": 4,
        "spot": {"on_demand_nodes": 1},
    }
    placement = pool_placement(
        run_input(command_task(compute={"kind": "new_cluster", "cluster": cluster})), "a"
    )
    assert placement.pool is not None
    assert (placement.pool.target_dedicated_nodes, placement.pool.target_low_priority_nodes) == (1, 3)


def test_a_batch_job_autopool_becomes_an_autopool_placement() -> None:
    cluster = JobCluster.model_validate({"key": "auto", "cluster": {"platform": "batch", "home": BATCH_POOL}})
    run = run_input(
        command_task(compute={"kind": "job_cluster", "job_cluster_key": "auto"}),
        job_cluster=cluster,
        job_home={"poolInfo": {"autoPoolSpecification": {"autoPoolIdPrefix": "nightly", "keepAlive": False}}},
    )
    placement = pool_placement(run, "a")
    assert (placement.mode, placement.auto_pool_id_prefix, placement.keep_alive) == (
        "autoPool",
        "nightly",
        False,
    )


def test_an_existing_pool_without_an_id_is_reported_with_its_path() -> None:
    task = command_task(compute={"kind": "existing_cluster"}, source_path="$.tasks[0]")
    with pytest.raises(BatchMappingError, match=r"\$\.tasks\[0\]\.compute\.cluster_id"):
        pool_placement(run_input(task), "a")


def test_app_setting_references_become_secret_refs_not_values() -> None:
    settings = environment_settings({"TOKEN": "%API_TOKEN%", "MODE": "fast"})
    assert [(s.name, s.value, s.secret_ref) for s in settings] == [
        ("MODE", "fast", None),
        ("TOKEN", None, "API_TOKEN"),
    ]


def test_the_job_carries_run_metadata_timeout_and_both_environments() -> None:
    run = run_input(command_task(timeout_seconds=90, environment={"B": "2"}), environment={"A": "1"})
    spec = job_spec(run, "job-x", PoolRef(mode="existing", pool_id="p"))
    body = spec.to_rest()
    assert body["poolInfo"] == {"poolId": "p"}
    assert body["constraints"]["maxWallClockTime"] == "PT1M30S"
    assert body["commonEnvironmentSettings"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]
    assert {"name": "jobclusters-run", "value": "run-1"} in body["metadata"]


def test_each_input_is_substituted_into_the_command_and_the_environment() -> None:
    payload = CommandPayload(command_line="python x.py --file {{input}}", elevated=True, instances=2)
    spec = task_spec(payload, "t-000003", 3, "c/a.csv", max_retries=2).to_rest()
    assert spec["commandLine"] == "python x.py --file c/a.csv"
    assert {"name": "JOBCLUSTERS_INPUT", "value": "c/a.csv"} in spec["environmentSettings"]
    assert {"name": "JOBCLUSTERS_INPUT_INDEX", "value": "3"} in spec["environmentSettings"]
    assert spec["constraints"] == {"maxTaskRetryCount": 2}
    assert spec["userIdentity"]["autoUser"]["elevationLevel"] == "admin"
    assert spec["multiInstanceSettings"] == {"numberOfInstances": 2}


def test_chunks_cover_every_input_once() -> None:
    assert chunk_ranges(0) == []
    assert chunk_ranges(5, 2) == [(0, 2), (2, 4), (4, 5)]
    ranges = chunk_ranges(2501)
    assert sum(end - start for start, end in ranges) == 2501 and ranges[-1] == (2000, 2501)
    with pytest.raises(ValueError):
        chunk_ranges(3, 0)


def test_compute_info_matches_the_tracking_record() -> None:
    info = compute_info(PoolRef(mode="onDemand", pool_id="p", vm_size="d2", node_count=2, low_priority=True))
    assert info == {
        "kind": "batch",
        "pool_or_cluster": "p",
        "node_size": "d2",
        "node_count": 2,
        "spot": True,
        "mode": "onDemand",
    }
