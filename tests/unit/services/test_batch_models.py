"""Batch request models: REST JSON in and out, clear errors with JSON paths, deterministic task ids."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from jobclusters.services.batch import (
    BatchSpecError,
    EnvironmentSetting,
    PoolPlacement,
    PoolSpec,
    TaskSpec,
    job_from_rest,
    make_task_id,
    pool_from_rest,
    resolve_environment,
    task_from_rest,
)

SEED = Path(__file__).resolve().parents[3] / "examples" / "seed"


def test_seed_pool_json_converts_with_autoscale_slots_start_task_and_metadata():
    pool = pool_from_rest(json.loads((SEED / "batch-pool-basic.json").read_text()))
    assert pool.vm_size == "Standard_D4s_v3"
    assert pool.enable_auto_scale and pool.auto_scale_formula
    assert pool.auto_scale_evaluation_interval == timedelta(minutes=5)
    assert pool.task_slots_per_node == 4
    assert pool.start_task is not None and pool.start_task.wait_for_success
    assert {m.name for m in pool.metadata} == {"Environment", "Project"}
    rest = pool.to_rest()
    assert rest["applicationPackageReferences"] == [
        {"applicationId": "data-processing-app", "version": "1.0"}
    ]
    assert "targetLowPriorityNodes" not in rest, "autoscale pools must not also send target node counts"


def test_seed_gpu_pool_keeps_dedicated_and_spot_counts():
    pool = pool_from_rest(json.loads((SEED / "batch-pool-gpu.json").read_text()))
    assert (pool.target_dedicated_nodes, pool.target_low_priority_nodes) == (2, 8)
    assert (
        pool.to_rest()["mountConfiguration"][0]["azureBlobFileSystemConfiguration"]["containerName"]
        == "ml-data"
    )


def test_seed_job_json_round_trips_to_the_same_rest_fields():
    raw = json.loads((SEED / "batch-job.json").read_text())
    job = job_from_rest(raw)
    rest = job.to_rest()
    assert rest["constraints"] == {"maxWallClockTime": "PT4H", "maxTaskRetryCount": 2}
    assert rest["jobManagerTask"]["resourceFiles"] == raw["jobManagerTask"]["resourceFiles"]
    assert rest["onAllTasksComplete"] == "terminateJob"
    assert job_from_rest(rest) == job


def test_missing_field_error_names_the_json_path():
    with pytest.raises(BatchSpecError) as err:
        job_from_rest({"id": "j", "poolInfo": {"poolId": "p"}, "jobManagerTask": {"id": "m"}})
    assert err.value.path == "job.jobManagerTask.commandLine"


def test_unknown_field_is_rejected_with_its_path():
    with pytest.raises(BatchSpecError) as err:
        task_from_rest(
            {"id": "t", "commandLine": "x", "resourceFiles": [{"httpUrl": "u", "filePath": "f", "bogus": 1}]}
        )
    assert err.value.path == "task.resourceFiles[0].bogus"


def test_resource_file_needs_exactly_one_source():
    with pytest.raises(BatchSpecError, match="exactly one of"):
        task_from_rest({"id": "t", "commandLine": "x", "resourceFiles": [{"filePath": "f"}]})


def test_autoscale_without_formula_is_rejected():
    with pytest.raises(BatchSpecError, match="autoScaleFormula"):
        pool_from_rest({"id": "p", "vmSize": "v", "enableAutoScale": True})


def test_placement_modes_require_their_fields():
    with pytest.raises(ValueError, match="poolId"):
        PoolPlacement(mode="existing")
    with pytest.raises(ValueError, match="pool is required"):
        PoolPlacement(mode="onDemand")


def test_task_ids_are_deterministic_batch_safe_and_bounded():
    assert make_task_id("run:1/a", 7) == make_task_id("run:1/a", 7) == "run_1_a-000007"
    long_a, long_b = make_task_id("x" * 100 + "a", 1), make_task_id("x" * 100 + "b", 1)
    assert len(long_a) <= 64 and long_a != long_b
    with pytest.raises(ValueError):
        TaskSpec(id="bad id!", command_line="x")


def test_secret_refs_resolve_from_app_settings_and_never_appear_in_the_model_json():
    setting = EnvironmentSetting(name="KEY", secret_ref="MY_APP_SETTING")
    assert "s3cr3t" not in json.dumps(setting.to_rest())
    assert resolve_environment([setting], {"MY_APP_SETTING": "s3cr3t"}) == [
        {"name": "KEY", "value": "s3cr3t"}
    ]
    with pytest.raises(BatchSpecError, match="MY_APP_SETTING"):
        resolve_environment([setting], {})


def test_owner_metadata_is_added_once():
    pool = PoolSpec(id="p", vm_size="v").with_owner("run-1").with_owner("run-2")
    assert pool.owner() == "run-2"
    assert len(pool.metadata) == 1
