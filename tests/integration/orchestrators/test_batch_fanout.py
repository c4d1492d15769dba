"""batch_fanout through run_job: inputs from blobs (prefix + glob), a list, or the trigger's files."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from azure.storage.blob import BlobServiceClient

from jobclusters.services import factory
from jobclusters.services.batch import BatchServiceError, PoolPlacement, PoolSpec
from tests.integration.orchestrators.harness import AppEnv, request_for, run_to_end, with_engine

PY = sys.executable


def recorder(out: Path) -> str:
    """A command that records the input it was given (argument and environment) as a file in `out`."""
    code = (
        "import os, sys, pathlib; name = sys.argv[1]; "
        "assert os.environ['JOBCLUSTERS_INPUT'] == name; "
        f"pathlib.Path({str(out)!r}, name.replace('/', '_')).write_text(name); "
        "sys.exit(7 if 'bad' in name else 0)"
    )
    return f'{PY} -c "{code}" {{{{input}}}}'


def fanout_task(out: Path, fan_out: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "key": "fan",
        "payload": {"kind": "command", "command_line": recorder(out), "fan_out": fan_out},
        **extra,
    }


def run(app_env: AppEnv, job: dict[str, Any], **fields: Any) -> dict[str, Any]:
    request = request_for(job, **fields)

    async def scenario(engine: Any) -> dict[str, Any]:
        return await run_to_end(engine, request)

    return with_engine(app_env, scenario)


def pool_exists(pool_id: str) -> bool:
    try:
        factory.get_batch_service().ensure_pool(
            PoolPlacement(mode="existing", pool_id=pool_id), owner="probe"
        )
    except BatchServiceError as exc:
        assert exc.code == "PoolNotFound"
        return False
    return True


def test_one_batch_task_runs_per_blob_matching_the_prefix_and_glob_and_the_pool_is_deleted_after(
    app_env: AppEnv, tmp_path: Path
) -> None:
    name = f"{app_env.table_prefix}in"
    container = BlobServiceClient.from_connection_string(app_env.connection).get_container_client(name)
    container.create_container()
    for blob in ("daily/2024-01-01.csv", "daily/2024-01-02.csv", "daily/readme.txt", "other/2024-01-03.csv"):
        container.upload_blob(blob, b"a,b\n1,2\n")
    out = tmp_path / "out"
    out.mkdir()
    output = run(
        app_env,
        {"name": "blobs", "tasks": [fanout_task(out, {"blob_prefix": f"{name}/daily/", "glob": "*.csv"})]},
    )
    fan = output["tasks"]["fan"]
    assert output["result"] == "SUCCESS", fan["message"]
    assert sorted(p.name for p in out.iterdir()) == [
        f"{name}_daily_2024-01-01.csv",
        f"{name}_daily_2024-01-02.csv",
    ]
    assert fan["details"]["inputs"] == 2
    assert fan["details"]["counts"]["succeeded"] == 2
    assert fan["details"]["pool_deleted"] is True
    assert "onDemand" in fan["compute"]
    pool_id = fan["compute"].split(" pool ")[1].split(" ")[0]
    assert not pool_exists(pool_id)


def test_failed_inputs_fail_the_task_with_their_exit_codes_and_log_links(
    app_env: AppEnv, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    output = run(app_env, {"name": "list", "tasks": [fanout_task(out, {"items": ["ok-1", "bad-1", "ok-2"]})]})
    fan = output["tasks"]["fan"]
    assert output["result"] == "FAILED"
    assert fan["state"] == "FAILED"
    assert fan["message"].startswith("1 of 3 Batch task(s) failed")
    assert len(list(out.iterdir())) == 3
    failed = fan["details"]["failed_tasks"]
    assert [t["exit_code"] for t in failed] == [7]
    assert failed[0]["task_id"].endswith("-000001")
    assert "stderr.txt" in failed[0]["log_urls"]


def test_the_files_of_the_trigger_are_the_inputs_and_an_existing_pool_is_left_alone(
    app_env: AppEnv, tmp_path: Path
) -> None:
    factory.get_batch_service().ensure_pool(
        PoolPlacement(
            mode="onDemand",
            pool=PoolSpec(id="shared-pool", vm_size="standard_d2s_v3", target_dedicated_nodes=1),
        ),
        owner="someone-else",
    )
    out = tmp_path / "out"
    out.mkdir()
    task = fanout_task(out, {"trigger_files": True}, compute={"kind": "pool", "cluster_id": "shared-pool"})
    output = run(
        app_env,
        {"name": "triggered", "tasks": [task]},
        parameters={"blob_path": "incoming/2024-02-01.csv"},
    )
    assert output["result"] == "SUCCESS", output["tasks"]["fan"]
    assert [p.read_text() for p in out.iterdir()] == ["incoming/2024-02-01.csv"]
    assert output["tasks"]["fan"]["details"]["pool_deleted"] is False
    assert pool_exists("shared-pool")


@pytest.mark.parametrize("fan_out", [{"items": []}, {"blob_prefix": "{container}/x/"}])
def test_no_inputs_is_a_success_with_nothing_run(
    app_env: AppEnv, tmp_path: Path, fan_out: dict[str, Any]
) -> None:
    name = f"{app_env.table_prefix}empty"
    BlobServiceClient.from_connection_string(app_env.connection).get_container_client(name).create_container()
    if "blob_prefix" in fan_out:
        fan_out = {"blob_prefix": fan_out["blob_prefix"].format(container=name)}
    output = run(app_env, {"name": "empty", "tasks": [fanout_task(tmp_path, fan_out)]})
    assert output["result"] == "SUCCESS"
    assert output["tasks"]["fan"]["details"] == {"inputs": 0}


def test_a_batch_job_autopool_is_created_by_batch_for_the_job(app_env: AppEnv, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    pool = {"id": "ignored", "vmSize": "standard_d2s_v3", "targetDedicatedNodes": 1, "taskSlotsPerNode": 2}
    job = {
        "name": "autopooled",
        "job_clusters": [{"key": "nightly", "cluster": {"platform": "batch", "home": pool}}],
        "home": {
            "poolInfo": {
                "autoPoolSpecification": {"autoPoolIdPrefix": "nightly", "poolLifetimeOption": "job"}
            }
        },
        "tasks": [
            fanout_task(
                out, {"items": ["a", "b", "c"]}, compute={"kind": "job_cluster", "job_cluster_key": "nightly"}
            )
        ],
    }
    output = run(app_env, job)
    fan = output["tasks"]["fan"]
    assert output["result"] == "SUCCESS", fan["message"]
    assert fan["compute"].startswith("batch autoPool pool nightly")
    assert fan["details"]["pool_deleted"] is False, "Batch, not the orchestrator, removes an autopool"
    assert sorted(p.name for p in out.iterdir()) == ["a", "b", "c"]
