"""The request and result models of the cluster-job service."""

from __future__ import annotations

from typing import Any

import pytest

from jobclusters.services.cluster import (
    ClusterRunRequest,
    InvalidRunRequest,
    RunHandle,
    idempotency_token,
    parse_run_request,
)

PY = {"spark_python_task": {"python_file": "dbfs:/a.py"}}


def req(*tasks: dict[str, Any], **extra: Any) -> ClusterRunRequest:
    return parse_run_request({"run_id": "r", "tasks": list(tasks), **extra})


def test_errors_name_the_json_path() -> None:
    with pytest.raises(InvalidRunRequest) as info:
        req({"task_key": "a", **PY, "new_cluster": {"num_workers": -1}})
    assert info.value.path == "$.tasks[0].new_cluster.num_workers"


def test_a_task_needs_exactly_one_payload() -> None:
    with pytest.raises(InvalidRunRequest, match="exactly one payload"):
        req({"task_key": "a"})
    with pytest.raises(InvalidRunRequest, match="exactly one payload"):
        req({"task_key": "a", **PY, "notebook_task": {"notebook_path": "/n"}})


def test_a_task_names_at_most_one_compute() -> None:
    with pytest.raises(InvalidRunRequest, match="at most one compute"):
        req({"task_key": "a", **PY, "existing_cluster_id": "c", "new_cluster": {"num_workers": 1}})


def test_unknown_fields_are_refused_outside_the_cluster_spec() -> None:
    with pytest.raises(InvalidRunRequest) as info:
        req({"task_key": "a", "spark_python_task": {"python_file": "x.py", "params": []}})
    assert info.value.path == "$.tasks[0].spark_python_task.params"


def test_cluster_spec_keeps_unknown_databricks_fields_and_stringifies_conf() -> None:
    task = req(
        {
            "task_key": "a",
            **PY,
            "new_cluster": {
                "num_workers": 0,
                "disk_spec": {"disk_size": 128},
                "spark_conf": {"spark.x": True, "spark.n": 4},
            },
        }
    ).tasks[0]
    assert task.new_cluster is not None
    dumped = task.new_cluster.model_dump()
    assert dumped["disk_spec"] == {"disk_size": 128}
    assert task.new_cluster.spark_conf == {"spark.x": "true", "spark.n": "4"}
    assert task.new_cluster.single_node


def test_references_to_job_clusters_and_dependencies_must_exist() -> None:
    with pytest.raises(InvalidRunRequest, match="job_cluster_key 'shared' is not in job_clusters"):
        req({"task_key": "a", **PY, "job_cluster_key": "shared"})
    with pytest.raises(InvalidRunRequest, match="unknown task 'b'"):
        req({"task_key": "a", **PY, "depends_on": ["b"]})
    with pytest.raises(InvalidRunRequest, match="unique"):
        req({"task_key": "a", **PY}, {"task_key": "a", **PY})


def test_job_cluster_resolves_for_its_tasks() -> None:
    request = req(
        {"task_key": "a", **PY, "job_cluster_key": "shared"},
        job_clusters=[{"job_cluster_key": "shared", "new_cluster": {"num_workers": 3}}],
    )
    cluster = request.cluster_for(request.tasks[0])
    assert cluster is not None and cluster.num_workers == 3


def test_autoscale_bounds_are_ordered() -> None:
    with pytest.raises(InvalidRunRequest, match="max_workers must be >= min_workers"):
        req({"task_key": "a", **PY, "new_cluster": {"autoscale": {"min_workers": 4, "max_workers": 2}}})


def test_library_names_exactly_one_kind() -> None:
    with pytest.raises(InvalidRunRequest, match="exactly one of pypi"):
        req({"task_key": "a", **PY, "libraries": [{"whl": "a.whl", "jar": "b.jar"}]})


def test_hive_task_takes_a_query_or_a_file() -> None:
    with pytest.raises(InvalidRunRequest, match="exactly one of query, file"):
        req({"task_key": "h", "hive_task": {}})


def test_idempotency_token_fits_databricks_limit() -> None:
    assert idempotency_token("run-1", "task") == "run-1:task"
    long = idempotency_token("r" * 100, "task")
    assert len(long) == 64 and long == idempotency_token("r" * 100, "task")
    assert long != idempotency_token("r" * 100, "other")


def test_handle_round_trips_through_json() -> None:
    handle = RunHandle(backend="local", run_id="x", idempotency_key="k", task_run_ids={"a": "x:a"})
    assert RunHandle.model_validate_json(handle.model_dump_json()) == handle


def test_synapse_pool_accepts_the_arm_property_names() -> None:
    request = req(
        {"task_key": "a", **PY},
        spark_pool={
            "nodeSize": "Medium",
            "autoScale": {"enabled": True, "minNodeCount": 3, "maxNodeCount": 20},
            "autoPause": {"enabled": True, "delayInMinutes": 15},
            "sparkConfigProperties": {"spark.a": True},
        },
    )
    pool = request.spark_pool
    assert pool is not None and pool.node_size == "Medium" and pool.auto_scale is not None
    assert pool.auto_scale.max_node_count == 20 and pool.spark_config_properties == {"spark.a": "true"}


def test_services_build_from_settings(tmp_path) -> None:
    from jobclusters.services.databricks import DatabricksClusterJobService
    from jobclusters.services.livy import HDInsightClusterJobService
    from jobclusters.services.local_cluster import LocalClusterJobService
    from jobclusters.services.synapse import SynapseClusterJobService
    from jobclusters.settings import ConfigurationError, Settings
    from tests.fakes.databricks_rest import FakeDatabricks

    local = LocalClusterJobService.from_settings(
        Settings.from_mapping({"JOBCLUSTERS_STATE_DIR": str(tmp_path)})
    )
    assert local.root == tmp_path / "local-cluster"
    local.close()
    with FakeDatabricks() as workspace:  # building a WorkspaceClient probes its host: keep it on loopback
        azure = Settings.from_mapping(
            {
                "JOBCLUSTERS_MODE": "azure",
                "DATABRICKS_HOST": workspace.url,
                "DATABRICKS_TOKEN": workspace.token,
                "HDINSIGHT_LIVY_URL": "https://c.azurehdinsight.net/livy",
                "HDINSIGHT_USERNAME": "admin",
                "HDINSIGHT_PASSWORD": "pw",
            }
        )
        assert DatabricksClusterJobService.from_settings(azure).backend == "databricks"
    livy = HDInsightClusterJobService.from_settings(azure)
    assert livy.cluster_url == "https://c.azurehdinsight.net"
    with pytest.raises(ConfigurationError, match="SYNAPSE_ENDPOINT"):
        SynapseClusterJobService.from_settings(azure)
    with pytest.raises(ConfigurationError, match="DATABRICKS_HOST"):
        DatabricksClusterJobService.from_settings(Settings.from_mapping({}))
