from __future__ import annotations

from typing import Any

import pytest

from jobclusters.execution.cluster_mapping import (
    ClusterMappingError,
    cluster_request,
    compute_info,
    platform_backend,
)
from jobclusters.execution.messages import TaskRunInput
from jobclusters.services import factory
from jobclusters.spec.model import JobCluster, Task


def run_input(task: dict[str, Any], **fields: Any) -> TaskRunInput:
    return TaskRunInput(
        run_id="run-1",
        control_id="run-1",
        job_id="j",
        job_name="J",
        task=Task.model_validate({"key": "t", **task}),
        **fields,
    )


NEW_CLUSTER = {
    "kind": "new_cluster",
    "cluster": {
        "platform": "databricks",
        "runtime": "15.4.x-scala2.12",
        "node_type": "Standard_DS3_v2",
        "num_workers": 2,
        "spot": {"on_demand_nodes": 1, "fallback_to_on_demand": True},
        "tags": {"Project": "p"},
    },
}


@pytest.mark.parametrize(
    ("payload", "field", "expected"),
    [
        ({"kind": "spark_python", "python_file": "a.py", "parameters": ["x"]}, "spark_python_task", "a.py"),
        ({"kind": "notebook", "path": "/n", "base_parameters": {"n": 1}}, "notebook_task", "/n"),
        ({"kind": "python_wheel", "package_name": "p", "entry_point": "main"}, "python_wheel_task", "p"),
        ({"kind": "spark_jar", "main_class_name": "a.B"}, "spark_jar_task", "a.B"),
        ({"kind": "spark_submit", "parameters": ["--class", "a.B"]}, "spark_submit_task", ["--class", "a.B"]),
        (
            {"kind": "livy_batch", "file": "abfss://c@a/x.py", "class_name": "M"},
            "spark_batch_task",
            "abfss://c@a/x.py",
        ),
        ({"kind": "hive", "query": "select 1"}, "hive_task", "select 1"),
        ({"kind": "mapreduce", "jar": "w.jar", "class_name": "W"}, "mapreduce_task", "w.jar"),
    ],
)
def test_every_cluster_payload_maps_to_its_request_field(
    payload: dict[str, Any], field: str, expected: Any
) -> None:
    request = cluster_request(run_input({"payload": payload}), "run-1:t:r0:a0", "databricks")
    task = request.tasks[0]
    assert task.payload_kind == field
    value = getattr(task, field)
    first = next(iter(value.model_dump().values()))
    assert first == expected


def test_notebook_parameters_are_strings_and_tags_name_the_run() -> None:
    request = cluster_request(
        run_input(
            {"payload": {"kind": "notebook", "path": "/n", "base_parameters": {"n": 1}}}, tags={"Owner": "me"}
        ),
        "run-1:t:r0:a0",
        "databricks",
    )
    assert request.tasks[0].notebook_task is not None
    assert request.tasks[0].notebook_task.base_parameters == {"n": "1"}
    assert request.tags == {"Owner": "me", "jobclusters-run": "run-1", "jobclusters-task": "t"}
    assert request.run_id == "run-1:t:r0:a0"


def test_a_new_cluster_is_sent_to_databricks_with_spot_and_tags() -> None:
    run = run_input({"payload": {"kind": "spark_python", "python_file": "a.py"}, "compute": NEW_CLUSTER})
    request = cluster_request(run, "a", "databricks")
    cluster = request.tasks[0].new_cluster
    assert cluster is not None
    assert (cluster.spark_version, cluster.node_type_id, cluster.num_workers) == (
        "15.4.x-scala2.12",
        "Standard_DS3_v2",
        2,
    )
    assert (
        cluster.azure_attributes is not None
        and cluster.azure_attributes.availability == "SPOT_WITH_FALLBACK_AZURE"
    )
    assert cluster.custom_tags == {"Project": "p"}
    assert compute_info("databricks", request)["spot"] is True


def test_a_databricks_home_cluster_is_passed_through() -> None:
    home = {"spark_version": "14.3.x", "node_type_id": "X", "num_workers": 0, "spark_conf": {"a": "b"}}
    compute = {"kind": "new_cluster", "cluster": {"platform": "databricks", "home": home}}
    request = cluster_request(
        run_input({"payload": {"kind": "spark_python", "python_file": "a.py"}, "compute": compute}),
        "a",
        "databricks",
    )
    cluster = request.tasks[0].new_cluster
    assert cluster is not None and cluster.single_node and cluster.spark_conf == {"a": "b"}


def test_a_shared_job_cluster_travels_with_the_request() -> None:
    shared = JobCluster.model_validate({"key": "shared", "cluster": {"runtime": "15.4.x", "num_workers": 1}})
    run = run_input(
        {
            "payload": {"kind": "spark_python", "python_file": "a.py"},
            "compute": {"kind": "job_cluster", "job_cluster_key": "shared"},
        },
        job_cluster=shared,
    )
    request = cluster_request(run, "a", "databricks")
    assert request.tasks[0].job_cluster_key == "shared"
    assert [c.job_cluster_key for c in request.job_clusters] == ["shared"]
    assert compute_info("databricks", request)["mode"] == "shared_job_cluster"


def test_existing_clusters_and_synapse_pools() -> None:
    existing = {"kind": "existing_cluster", "cluster_id": "0101-abc"}
    run = run_input({"payload": {"kind": "spark_python", "python_file": "a.py"}, "compute": existing})
    assert cluster_request(run, "a", "databricks").tasks[0].existing_cluster_id == "0101-abc"
    pool = {"kind": "pool", "cluster_id": "sparkpool1"}
    synapse = run_input({"payload": {"kind": "livy_batch", "file": "x.py"}, "compute": pool})
    request = cluster_request(synapse, "a", "synapse")
    assert request.spark_pool is not None and request.spark_pool.pool_name == "sparkpool1"
    assert request.tasks[0].existing_cluster_id is None


def test_local_mode_runs_every_cluster_task_locally_and_keeps_the_base_dir(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run = run_input(
        {"payload": {"kind": "spark_python", "python_file": "a.py"}, "compute": NEW_CLUSTER}, base_dir="/jobs"
    )
    for mode, expected in (("local", "local"), ("azure", "databricks")):
        monkeypatch.setenv("JOBCLUSTERS_MODE", mode)
        with factory.overridden():
            assert factory.cluster_backend(run) == expected
    assert platform_backend(run) == "databricks"
    request = cluster_request(run, "a", "local")
    assert request.base_dir == "/jobs"
    assert request.tasks[0].new_cluster is not None


def test_platforms_choose_the_azure_backend() -> None:
    def backend(platform: str, kind: str = "spark_python") -> str:
        payload = (
            {"kind": kind, "python_file": "a.py"} if kind == "spark_python" else {"kind": kind, "query": "q"}
        )
        compute = {"kind": "new_cluster", "cluster": {"platform": platform}}
        return platform_backend(run_input({"payload": payload, "compute": compute}))

    assert (backend("hdinsight"), backend("synapse"), backend("databricks")) == (
        "livy",
        "synapse",
        "databricks",
    )
    assert platform_backend(run_input({"payload": {"kind": "hive", "query": "q"}})) == "livy"


def test_a_payload_that_is_not_a_cluster_job_is_refused_with_its_path() -> None:
    run = run_input({"payload": {"kind": "sql", "warehouse_id": "w"}, "source_path": "$.tasks[2]"})
    with pytest.raises(ClusterMappingError, match=r"\$\.tasks\[2\]\.payload"):
        cluster_request(run, "a", "databricks")


def test_existing_compute_run_locally_is_named_a_stand_in() -> None:
    from jobclusters.execution.cluster_mapping import compute_label

    for compute in (
        {"kind": "existing_cluster", "cluster_id": "0101-abc"},
        {"kind": "pool", "cluster_id": "sp1"},
    ):
        run = run_input({"payload": {"kind": "spark_python", "python_file": "a.py"}, "compute": compute})
        local = cluster_request(run, "a", "local")
        name = compute["cluster_id"]
        assert compute_label("local", local) == f"local stand-in for existing cluster {name}"
        assert compute_info("local", local)["mode"] == "existing_cluster (local stand-in)"
        remote = cluster_request(run, "a", "databricks")
        assert compute_label("databricks", remote) == f"databricks existing cluster {name}"
        assert compute_info("databricks", remote)["mode"] == "existing_cluster"


def test_a_sql_task_maps_to_a_file_or_query_text_and_runs_on_a_sql_warehouse_on_azure() -> None:
    from jobclusters.execution.cluster_mapping import ClusterMappingError

    file = {"kind": "sql", "warehouse_id": "wh", "query": {"file": {"path": "q.sql"}}}
    file["parameters"] = {"d": "1"}
    run = run_input({"payload": file})
    request = cluster_request(run, "a", "sql_warehouse")
    sql = request.tasks[0].sql_task
    assert sql is not None and (sql.file, sql.warehouse_id, sql.parameters) == ("q.sql", "wh", {"d": "1"})
    assert platform_backend(run) == "sql_warehouse"
    text = run_input(
        {"payload": {"kind": "sql", "warehouse_id": "wh", "query": {"query": {"query_text": "SELECT 1"}}}}
    )
    assert cluster_request(text, "a", "local").tasks[0].sql_task.query_text == "SELECT 1"  # type: ignore[union-attr]
    saved = run_input(
        {"payload": {"kind": "sql", "warehouse_id": "wh", "query": {"query": {"query_id": "q1"}}}}
    )
    with pytest.raises(ClusterMappingError, match="give the SQL as file.path"):
        cluster_request(saved, "a", "local")
