from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from jobclusters.spec import load_definition
from jobclusters.spec.importers.adf import parse_timespan
from jobclusters.spec.importers.batch import parse_duration
from jobclusters.spec.model import (
    CommandPayload,
    ComputeMode,
    ConditionPayload,
    DependencyCondition,
    EngineRules,
    ForEachPayload,
    HivePayload,
    LivyBatchPayload,
    MapReducePayload,
    NotebookPayload,
    PythonWheelPayload,
    SparkPythonPayload,
    UnsupportedPayload,
)
from tests.unit.spec.conftest import NATIVE_DIR, SEED_DIR

NO_TAGS: tuple[str, ...] = ()


def seed(name: str) -> dict[str, Any]:
    return json.loads((SEED_DIR / name).read_text())


def codes(result: Any) -> list[str]:
    return [p.code for p in result.errors]


# ---------------------------------------------------------------- every seed example

SEED_EXPECTATIONS: dict[str, tuple[str, list[str], list[str]]] = {
    # file: (format, task keys, paths of inline secrets)
    "batch-job.json": ("batch-job", ["job-manager"], ["$.commonEnvironmentSettings[1].value"]),
    "batch-pool-basic.json": ("batch-pool", [], []),
    "batch-pool-gpu.json": (
        "batch-pool",
        [],
        ["$.mountConfiguration[0].azureBlobFileSystemConfiguration.accountKey"],
    ),
    "cost-optimization.json": ("cost-policy", [], []),
    "databricks-job-basic.json": ("databricks", ["data-processing-job"], []),
    "databricks-job-cron.json": ("databricks", ["daily-sales-report"], []),
    "databricks-job-high-concurrency.json": ("databricks", ["concurrent-etl-job"], []),
    "databricks-job-ml-gpu.json": ("databricks", ["ml-training-job"], []),
    "databricks-job-multitask.json": (
        "databricks",
        ["data_validation", "data_transformation", "data_quality_check", "publish_results"],
        [],
    ),
    "databricks-job-single-node.json": ("databricks", ["lightweight-processing-job"], []),
    "hdinsight-spark-cluster.json": (
        "hdinsight",
        [],
        [
            '$.properties.clusterDefinition.configurations.gateway["restAuthCredential.password"]',
            "$.properties.computeProfile.roles[0].osProfile.linuxOperatingSystemProfile.password",
            "$.properties.computeProfile.roles[1].osProfile.linuxOperatingSystemProfile.password",
            "$.properties.storageProfile.storageaccounts[0].key",
        ],
    ),
    "security-config.json": ("security-config", [], []),
    "synapse-pipeline.json": ("adf", ["DataValidation", "DataTransformation", "DataQualityCheck"], []),
    "synapse-spark-pool.json": ("synapse-pool", [], []),
}


def test_every_seed_json_example_has_an_expectation() -> None:
    assert sorted(p.name for p in SEED_DIR.glob("*.json")) == sorted(SEED_EXPECTATIONS)


@pytest.mark.parametrize("name", sorted(SEED_EXPECTATIONS))
def test_seed_example_loads_with_its_format_tasks_and_secrets(name: str) -> None:
    fmt, keys, secret_paths = SEED_EXPECTATIONS[name]
    result = load_definition(SEED_DIR / name, required_tags=NO_TAGS)
    assert result.format == fmt
    if fmt in {"cost-policy", "security-config"}:
        assert result.job is None
    else:
        assert result.job is not None
        assert [t.key for t in result.job.tasks] == keys
    assert sorted(p.path for p in result.errors if p.code.startswith("secret")) == sorted(secret_paths)


@pytest.mark.parametrize("name", sorted(SEED_EXPECTATIONS))
def test_seed_jobs_round_trip_as_durable_inputs(name: str) -> None:
    job = load_definition(SEED_DIR / name, required_tags=NO_TAGS).job
    if job is not None:
        assert type(job).model_validate(job.model_dump(mode="json")) == job


def test_only_the_secret_seeds_and_the_autoscale_pool_have_errors() -> None:
    invalid = {p.name for p in SEED_DIR.glob("*.json") if load_definition(p, required_tags=NO_TAGS).errors}
    assert invalid == {
        "batch-job.json",
        "batch-pool-gpu.json",
        "hdinsight-spark-cluster.json",
        "batch-pool-basic.json",
    }


# ---------------------------------------------------------------- Databricks


def test_databricks_multitask_keeps_dependencies_and_per_task_clusters() -> None:
    job = load_definition(SEED_DIR / "databricks-job-multitask.json", required_tags=NO_TAGS).require()
    transform = job.task("data_transformation")
    assert [d.task_key for d in transform.depends_on] == ["data_validation"]
    assert isinstance(transform.payload, SparkPythonPayload)
    assert transform.payload.parameters[:2] == ["--input", "/mnt/validated_data"]
    assert transform.compute is not None and transform.compute.modes == [
        ComputeMode.ON_DEMAND_JOB_CLUSTER,
        ComputeMode.AUTOSCALE,
    ]
    publish = job.task("publish_results")
    assert publish.compute is not None and publish.compute.kind == "existing_cluster"
    assert publish.compute.cluster_id == "{{shared_cluster_id}}"
    assert job.task("data_validation").timeout_seconds == 1800
    assert [t.address for t in job.notifications.on_failure] == [
        "etl-team@company.com",
        "ops-team@company.com",
    ]
    assert [t.kind for t in job.notifications.on_success] == ["email", "webhook"]


def test_databricks_legacy_seed_forms() -> None:
    basic = load_definition(SEED_DIR / "databricks-job-basic.json", required_tags=NO_TAGS).require()
    task = basic.tasks[0]
    assert task.retry.max_retries == 2 and task.retry.min_retry_interval_millis == 5000
    assert task.retry.retry_on_timeout and task.timeout_seconds == 3600
    assert [lib.kind for lib in task.libraries] == ["pypi", "pypi", "maven"]
    assert task.compute is not None and task.compute.cluster is not None
    assert task.compute.cluster.spot is not None and task.compute.cluster.spot.fallback_to_on_demand
    assert task.compute.cluster.init_scripts == ["dbfs:dbfs:/databricks/init-scripts/install-libraries.sh"]
    assert task.compute.modes == [
        ComputeMode.ON_DEMAND_JOB_CLUSTER,
        ComputeMode.AUTOSCALE,
        ComputeMode.SPOT_WITH_FALLBACK,
    ]
    cron = load_definition(SEED_DIR / "databricks-job-cron.json", required_tags=NO_TAGS).require()
    assert cron.schedule is not None and cron.schedule.quartz_cron_expression == "0 0 2 * * ?"
    assert isinstance(cron.tasks[0].payload, NotebookPayload)
    assert cron.tasks[0].payload.base_parameters["report_date"] == "{{start_date}}"
    wheel = load_definition(SEED_DIR / "databricks-job-single-node.json", required_tags=NO_TAGS).require()
    assert isinstance(wheel.tasks[0].payload, PythonWheelPayload)
    assert wheel.tasks[0].compute is not None
    assert wheel.tasks[0].compute.modes == [ComputeMode.ON_DEMAND_JOB_CLUSTER, ComputeMode.SINGLE_NODE]


def test_seed_without_payload_warns_instead_of_failing() -> None:
    result = load_definition(SEED_DIR / "databricks-job-ml-gpu.json", required_tags=NO_TAGS)
    assert result.ok
    assert any(p.code == "no-payload" for p in result.warnings)


def databricks_job(**extra: Any) -> dict[str, Any]:
    return {
        "name": "j",
        "job_clusters": [
            {
                "job_cluster_key": "c",
                "new_cluster": {
                    "spark_version": "15.4.x-scala2.12",
                    "node_type_id": "Standard_DS3_v2",
                    "num_workers": 1,
                },
            }
        ],
        "tasks": [
            {"task_key": "a", "job_cluster_key": "c", "notebook_task": {"notebook_path": "/a"}},
            {
                "task_key": "b",
                "depends_on": [{"task_key": "a"}],
                "job_cluster_key": "c",
                "spark_python_task": {"python_file": "b.py"},
            },
        ],
        **extra,
    }


def test_databricks_condition_for_each_and_run_if() -> None:
    doc = databricks_job()
    doc["tasks"] += [
        {
            "task_key": "check",
            "depends_on": [{"task_key": "b"}],
            "condition_task": {"op": "GREATER_THAN", "left": "{{tasks.a.values.n}}", "right": "3"},
        },
        {
            "task_key": "loop",
            "depends_on": [{"task_key": "check", "outcome": "true"}],
            "for_each_task": {
                "inputs": "[1, 2, 3]",
                "concurrency": 2,
                "task": {
                    "task_key": "loop_body",
                    "job_cluster_key": "c",
                    "notebook_task": {"notebook_path": "/x"},
                },
            },
        },
        {
            "task_key": "cleanup",
            "depends_on": [{"task_key": "loop"}],
            "run_if": "ALL_DONE",
            "job_cluster_key": "c",
            "notebook_task": {"notebook_path": "/c"},
        },
    ]
    result = load_definition(doc, required_tags=NO_TAGS)
    assert result.errors == []
    job = result.require()
    assert isinstance(job.task("check").payload, ConditionPayload)
    loop = job.task("loop").payload
    assert isinstance(loop, ForEachPayload) and loop.concurrency == 2 and loop.task.key == "loop_body"
    assert job.task("loop").depends_on[0].outcome == "true"
    assert job.task("cleanup").run_if.value == "ALL_DONE"


def test_databricks_kinds_we_cannot_run_are_kept_and_reported() -> None:
    doc = databricks_job()
    doc["tasks"].append({"task_key": "dlt", "pipeline_task": {"pipeline_id": "p-1"}})
    result = load_definition(doc, required_tags=NO_TAGS)
    task = result.require().task("dlt")
    assert isinstance(task.payload, UnsupportedPayload) and task.payload.spec == {"pipeline_id": "p-1"}
    assert [(w.path, w.code) for w in result.warnings] == [("$.tasks[2].pipeline_task", "unsupported-kind")]


def test_databricks_nested_for_each_is_rejected() -> None:
    doc = databricks_job()
    doc["tasks"].append(
        {
            "task_key": "outer",
            "for_each_task": {
                "inputs": "[1]",
                "task": {"task_key": "inner", "for_each_task": {"inputs": "[1]", "task": {"task_key": "x"}}},
            },
        }
    )
    result = load_definition(doc, required_tags=NO_TAGS)
    assert ("$.tasks[2].for_each_task.task.for_each_task", "for-each") in [
        (e.path, e.code) for e in result.errors
    ]


def test_databricks_job_settings_wrapper_and_job_level_fields() -> None:
    settings = databricks_job(
        schedule={
            "quartz_cron_expression": "0 0 * * * ?",
            "timezone_id": "Europe/Berlin",
            "pause_status": "PAUSED",
        },
        trigger={
            "file_arrival": {
                "url": "abfss://in@acct.dfs.core.windows.net/drop/",
                "min_time_between_triggers_seconds": 60,
            }
        },
        max_concurrent_runs=3,
        queue={"enabled": True},
        parameters=[{"name": "day", "default": "2024-01-01"}],
        tags={"team": "x"},
        health={"rules": [{"metric": "RUN_DURATION_SECONDS", "op": "GREATER_THAN", "value": 600}]},
    )
    result = load_definition({"job_id": 7, "settings": settings}, required_tags=NO_TAGS)
    job = result.require()
    assert job.schedule is not None and job.schedule.pause_status == "PAUSED"
    assert job.triggers[0].kind == "file_arrival" and job.max_concurrent_runs == 3 and job.queue
    assert job.parameter_defaults() == {"day": "2024-01-01"} and job.health[0].value == 600
    bad: dict[str, Any] = {"job_id": 7, "settings": databricks_job()}
    bad["settings"]["tasks"][1]["depends_on"][0]["task_key"] = "nope"
    assert [e.path for e in load_definition(bad, required_tags=NO_TAGS).errors] == [
        "$.settings.tasks[1].depends_on[0].task_key"
    ]


def test_databricks_unknown_task_field_is_an_error_and_unknown_cluster_field_a_warning() -> None:
    doc = databricks_job()
    doc["tasks"][0]["retries"] = 3
    doc["job_clusters"][0]["new_cluster"]["shiny_new_option"] = True
    result = load_definition(doc, required_tags=NO_TAGS)
    assert [(e.path, e.code) for e in result.errors] == [("$.tasks[0].retries", "unknown-key")]
    assert ("$.job_clusters[0].new_cluster.shiny_new_option", "unknown-key") in [
        (w.path, w.code) for w in result.warnings
    ]
    strict = load_definition(doc, required_tags=NO_TAGS, strict=True)
    assert "$.job_clusters[0].new_cluster.shiny_new_option" in [e.path for e in strict.errors]


# ---------------------------------------------------------------- ADF / Synapse


def test_synapse_pipeline_maps_activities_policy_and_parameters() -> None:
    job = load_definition(SEED_DIR / "synapse-pipeline.json", required_tags=NO_TAGS).require()
    assert job.engine_rules == EngineRules.ADF
    first = job.task("DataValidation")
    assert first.timeout_seconds == 12 * 3600
    assert first.retry.max_retries == 2 and first.retry.min_retry_interval_millis == 30_000
    assert isinstance(first.payload, NotebookPayload)
    assert first.payload.path == "DataValidationNotebook"
    assert first.payload.base_parameters["input_path"] == "@pipeline().parameters.input_path"
    assert first.compute is not None and first.compute.cluster_id == "synapse-spark-pool"
    second = job.task("DataTransformation")
    assert second.depends_on[0].conditions == [DependencyCondition.SUCCEEDED]
    assert {p.name for p in job.parameters} == {"input_path", "output_path", "transformation_config"}
    assert "processing_date" in job.variables


def adf_pipeline(*activities: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": "p",
        "properties": {
            "activities": list(activities),
            "parameters": {"x": {"type": "String", "defaultValue": "1"}},
        },
    }


def test_adf_activity_types_map_to_payloads() -> None:
    doc = adf_pipeline(
        {
            "name": "nb",
            "type": "DatabricksNotebook",
            "linkedServiceName": {"referenceName": "dbx"},
            "typeProperties": {"notebookPath": "/n", "baseParameters": {"p": "@pipeline().parameters.x"}},
        },
        {
            "name": "batch",
            "type": "Custom",
            "linkedServiceName": {"referenceName": "batch-ls"},
            "dependsOn": [{"activity": "nb", "dependencyConditions": ["Failed", "Skipped"]}],
            "typeProperties": {"command": "python run.py"},
        },
        {
            "name": "spark",
            "type": "HDInsightSpark",
            "linkedServiceName": {"referenceName": "hdi"},
            "dependsOn": [{"activity": "batch", "dependencyConditions": ["Completed"]}],
            "typeProperties": {"rootPath": "jobs", "entryFilePath": "main.py", "arguments": ["a"]},
        },
        {"name": "loop", "type": "ForEach", "typeProperties": {"items": "@createArray(1)", "activities": []}},
        {"name": "stop", "type": "Fail", "typeProperties": {"message": "boom", "errorCode": "500"}},
    )
    result = load_definition(doc, required_tags=NO_TAGS)
    assert result.errors == []
    job = result.require()
    assert isinstance(job.task("nb").payload, NotebookPayload)
    batch = job.task("batch")
    assert isinstance(batch.payload, CommandPayload) and batch.payload.command_line == "python run.py"
    assert batch.depends_on[0].conditions == [DependencyCondition.FAILED, DependencyCondition.SKIPPED]
    spark = job.task("spark").payload
    assert isinstance(spark, LivyBatchPayload) and spark.file == "jobs/main.py"
    assert isinstance(job.task("loop").payload, UnsupportedPayload)
    assert ("$.properties.activities[3].type", "unsupported-kind") in [
        (w.path, w.code) for w in result.warnings
    ]
    assert job.task("nb").timeout_seconds == 7 * 24 * 3600


def test_an_adf_pipeline_has_no_run_limit_unless_it_sets_concurrency_and_then_queues() -> None:
    doc = adf_pipeline({"name": "stop", "type": "Fail", "typeProperties": {"message": "m", "errorCode": "1"}})
    free = load_definition(doc, required_tags=NO_TAGS).require()
    assert (free.max_concurrent_runs, free.queue) == (None, False)
    doc["properties"]["concurrency"] = 2
    limited = load_definition(doc, required_tags=NO_TAGS).require()
    assert (limited.max_concurrent_runs, limited.queue) == (2, True)


def test_adf_compute_activities_take_dynamic_content_where_they_take_a_string() -> None:
    command = "@concat('python run.py ', pipeline().parameters.x)"
    doc = adf_pipeline(
        {
            "name": "batch",
            "type": "Custom",
            "linkedServiceName": {"referenceName": "batch-ls"},
            "typeProperties": {"command": {"value": command, "type": "Expression"}},
        },
        {
            "name": "nb",
            "type": "DatabricksNotebook",
            "linkedServiceName": {"referenceName": "dbx"},
            "typeProperties": {"notebookPath": {"value": "@pipeline().parameters.x", "type": "Expression"}},
        },
    )
    job = load_definition(doc, required_tags=NO_TAGS).require()
    batch, notebook = job.task("batch").payload, job.task("nb").payload
    assert isinstance(batch, CommandPayload) and batch.command_line == command
    assert isinstance(notebook, NotebookPayload) and notebook.path == "@pipeline().parameters.x"


@pytest.mark.parametrize(
    ("mutation", "path", "code"),
    [
        (
            lambda a: a[0].update(policy={"timeout": "forever"}),
            "$.properties.activities[0].policy.timeout",
            "timespan",
        ),
        (
            lambda a: a[1]["dependsOn"][0].update(dependencyConditions=["Maybe"]),
            "$.properties.activities[1].dependsOn[0].dependencyConditions[0]",
            "enum",
        ),
        (
            lambda a: a[1]["dependsOn"][0].update(activity="ghost"),
            "$.properties.activities[1].dependsOn[0].activity",
            "unknown-dependency",
        ),
        (
            lambda a: a[0].update(type="ForEach", typeProperties={"batchCount": 51}),
            "$.properties.activities[0].typeProperties.batchCount",
            "range",
        ),
        (lambda a: a[0].update(name="bad/name"), "$.properties.activities[0].name", "task-key"),
    ],
)
def test_adf_errors_name_their_path(mutation: Any, path: str, code: str) -> None:
    activities: list[dict[str, Any]] = [
        {"name": "a", "type": "Fail", "typeProperties": {"message": "m", "errorCode": "1"}},
        {
            "name": "b",
            "type": "Fail",
            "dependsOn": [{"activity": "a", "dependencyConditions": ["Failed"]}],
            "typeProperties": {"message": "m", "errorCode": "1"},
        },
    ]
    mutation(activities)
    result = load_definition(adf_pipeline(*activities), required_tags=NO_TAGS)
    assert (path, code) in [(e.path, e.code) for e in result.errors]


@pytest.mark.parametrize(
    ("text", "seconds"), [("0.12:00:00", 43200), ("7.00:00:00", 604800), ("01:30:05", 5405), ("1:2:3", None)]
)
def test_adf_timespans(text: str, seconds: int | None) -> None:
    assert parse_timespan(text) == seconds


# ---------------------------------------------------------------- Batch


def test_batch_job_manager_constraints_and_pool_reference() -> None:
    result = load_definition(SEED_DIR / "batch-job.json", required_tags=NO_TAGS)
    job = result.job
    assert job is not None
    manager = job.tasks[0]
    assert isinstance(manager.payload, CommandPayload) and manager.payload.role == "job_manager"
    assert manager.timeout_seconds == 7200 and manager.retry.max_retries == 3
    assert [f.file_path for f in manager.payload.resource_files] == ["job_manager.py", "task_processor.py"]
    assert manager.payload.output_files[0].upload_condition == "taskCompletion"
    assert manager.compute is not None and manager.compute.kind == "pool"
    assert manager.compute.modes == [ComputeMode.EXISTING_CLUSTER]
    assert job.timeout_seconds == 4 * 3600
    assert job.environment["BATCH_ACCOUNT_NAME"] == "mybatchaccount"


def test_batch_pools_derive_spot_and_autoscale_modes() -> None:
    gpu = load_definition(SEED_DIR / "batch-pool-gpu.json", required_tags=NO_TAGS).job
    assert gpu is not None
    spec = gpu.job_clusters[0].cluster
    assert spec.platform == "batch" and spec.num_workers == 10 and spec.node_type == "Standard_NC6s_v3"
    assert spec.spot is not None and spec.spot.fallback_to_on_demand and spec.spot.on_demand_nodes == 2
    basic = load_definition(SEED_DIR / "batch-pool-basic.json", required_tags=NO_TAGS)
    assert basic.job is not None
    cluster = basic.job.job_clusters[0].cluster
    assert cluster.autoscale is not None and cluster.autoscale.formula is not None
    assert cluster.spot is not None and not cluster.spot.fallback_to_on_demand
    assert {e.path for e in basic.errors} == {"$.targetDedicatedNodes", "$.targetLowPriorityNodes"}


def batch_job(**extra: Any) -> dict[str, Any]:
    return {
        "id": "fanout",
        "poolInfo": {
            "autoPoolSpecification": {
                "autoPoolIdPrefix": "fan",
                "poolLifetimeOption": "job",
                "pool": {"vmSize": "Standard_D2s_v3", "targetDedicatedNodes": 2},
            }
        },
        "usesTaskDependencies": True,
        "tasks": [
            {"id": "1", "commandLine": "echo 1"},
            {"id": "2", "commandLine": "echo 2"},
            {"id": "3", "commandLine": "echo 3"},
            {
                "id": "merge",
                "commandLine": "echo merge",
                "dependsOn": {"taskIds": ["3"], "taskIdRanges": [{"start": 1, "end": 2}]},
                "constraints": {"maxTaskRetryCount": -1, "maxWallClockTime": "PT10M"},
            },
        ],
        **extra,
    }


def test_batch_tasks_dependencies_ranges_and_auto_pool() -> None:
    result = load_definition(batch_job(), required_tags=NO_TAGS)
    assert result.errors == []
    job = result.require()
    merge = job.task("merge")
    assert [d.task_key for d in merge.depends_on] == ["3", "1", "2"]
    assert merge.retry.max_retries == -1 and merge.timeout_seconds == 600
    assert merge.compute is not None and merge.compute.modes == [ComputeMode.SHARED_JOB_CLUSTER]
    assert job.job_clusters[0].key == "fan"


def test_batch_errors_name_their_paths() -> None:
    doc = batch_job(usesTaskDependencies=False)
    doc["poolInfo"]["poolId"] = "also"
    doc["tasks"][0]["constraints"] = {"maxWallClockTime": "two hours"}
    result = load_definition(doc, required_tags=NO_TAGS)
    found = {(e.path, e.code) for e in result.errors}
    assert ("$.poolInfo", "compute") in found
    assert ("$.tasks[3].dependsOn", "dependencies") in found
    assert ("$.tasks[0].constraints.maxWallClockTime", "duration") in found


@pytest.mark.parametrize(
    ("text", "seconds"), [("PT2H", 7200), ("P1DT30M", 88200), ("PT0.5S", 0), ("2h", None)]
)
def test_iso_durations(text: str, seconds: int | None) -> None:
    assert parse_duration(text) == seconds


# ---------------------------------------------------------------- HDInsight, Synapse pool, Livy


def test_hdinsight_cluster_becomes_a_job_cluster() -> None:
    job = load_definition(SEED_DIR / "hdinsight-spark-cluster.json", required_tags=NO_TAGS).job
    assert job is not None
    spec = job.job_clusters[0].cluster
    assert spec.platform == "hdinsight" and spec.num_workers == 4
    assert spec.node_type == "Standard_D13_v2" and spec.driver_node_type == "Standard_D12_v2"
    assert spec.spark_conf["spark.sql.adaptive.enabled"] == "true"


def test_synapse_pool_autoscale_and_auto_pause() -> None:
    job = load_definition(SEED_DIR / "synapse-spark-pool.json", required_tags=NO_TAGS).require()
    spec = job.job_clusters[0].cluster
    assert spec.autoscale is not None and (spec.autoscale.min_workers, spec.autoscale.max_workers) == (3, 20)
    assert spec.auto_termination_minutes == 15 and spec.node_type == "MemoryOptimized/Medium"


def test_livy_batch_payload_is_a_one_task_job() -> None:
    doc = {
        "file": "abfss://jobs@acct.dfs.core.windows.net/wordcount.py",
        "args": ["in", "out"],
        "conf": {"spark.executor.memory": "2g"},
        "numExecutors": 2,
    }
    result = load_definition(doc, required_tags=NO_TAGS)
    assert result.format == "livy"
    payload = result.require().tasks[0].payload
    assert isinstance(payload, LivyBatchPayload) and payload.num_executors == 2


# ---------------------------------------------------------------- native, files, detection


@pytest.mark.parametrize("path", sorted(NATIVE_DIR.glob("*.*")), ids=lambda p: p.name)
def test_native_examples_are_valid_with_the_default_tag_policy(path: Path) -> None:
    result = load_definition(path)
    assert result.format == "native"
    assert result.errors == [] and result.warnings == []


def test_native_schema_errors_point_at_the_field() -> None:
    doc = json.loads((NATIVE_DIR / "batch-fanout-adf-rules.json").read_text())
    doc["tasks"][1]["retry"] = {"max_retries": "lots"}
    doc["tasks"][2]["payload"]["command_lin"] = "x"
    result = load_definition(doc)
    paths = {e.path for e in result.errors}
    assert "$.tasks[1].retry.max_retries" in paths
    assert "$.tasks[2].payload.command_lin" in paths
    assert result.job is None


def test_explicit_format_overrides_detection_and_unknown_format_is_reported() -> None:
    doc = seed("databricks-job-cron.json")
    assert load_definition(doc, format="databricks", required_tags=NO_TAGS).format == "databricks"
    result = load_definition(doc, format="cobol", required_tags=NO_TAGS)
    assert result.errors[0].code == "format" and "cobol" in result.errors[0].message


def test_unreadable_and_unrecognised_sources_are_errors_not_crashes(tmp_path: Path) -> None:
    assert load_definition(tmp_path / "missing.json").errors[0].code == "read"
    broken = tmp_path / "broken.json"
    broken.write_text('{"name": ')
    assert "line 1" in load_definition(broken).errors[0].message
    listing = tmp_path / "list.yaml"
    listing.write_text("- a\n- b\n")
    assert load_definition(listing).errors[0].code == "type"
    assert load_definition({"hello": "world"}).errors[0].code == "format"


def test_yaml_is_read_by_content(tmp_path: Path) -> None:
    path = tmp_path / "job.txt"
    path.write_text(json.dumps(seed("databricks-job-cron.json")))
    assert load_definition(path, required_tags=NO_TAGS).format == "databricks"
    yaml_path = tmp_path / "job.yml"
    yaml_path.write_text("format: jobclusters/v1\nname: y\ntasks:\n  - key: a\n")
    assert load_definition(yaml_path, required_tags=NO_TAGS).require().tasks[0].key == "a"


def test_mapping_source_is_not_mutated() -> None:
    doc = databricks_job()
    before = copy.deepcopy(doc)
    load_definition(doc)
    assert doc == before


def test_hdinsight_hive_and_mapreduce_submissions_become_one_task_jobs() -> None:
    storage = "wasbs://c@acct.blob.core.windows.net"
    hive = load_definition(
        {"file": f"{storage}/scripts/sales_analysis.hql", "arg": [f"INPUT={storage}/data/sales/"]},
        required_tags=NO_TAGS,
    )
    assert hive.format == "hive"
    payload = hive.require().tasks[0].payload
    assert isinstance(payload, HivePayload) and payload.defines == {"INPUT": f"{storage}/data/sales/"}
    mapreduce = load_definition(
        {
            "jar": f"{storage}/jars/wordcount.jar",
            "class": "org.apache.hadoop.examples.WordCount",
            "arg": [f"{storage}/input/sample.txt", f"{storage}/output/wordcount"],
        },
        required_tags=NO_TAGS,
    )
    assert mapreduce.format == "mapreduce"
    job = mapreduce.require()
    assert isinstance(job.tasks[0].payload, MapReducePayload) and len(job.tasks[0].payload.args) == 2
    assert load_definition({"execute": "select 1", "file": "x.hql"}).errors[0].code == "payload"


def pipeline_with_triggers(*triggers: dict[str, Any]) -> dict[str, Any]:
    doc = adf_pipeline({"name": "a", "type": "Fail", "typeProperties": {"message": "m", "errorCode": "1"}})
    doc["triggers"] = list(triggers)
    return doc


@pytest.mark.parametrize(
    ("recurrence", "cron", "zone"),
    [
        ({"frequency": "Minute", "interval": 15}, "0 0/15 * * * ?", "UTC"),
        ({"frequency": "Hour", "interval": 2, "startTime": "2024-01-01T00:30:00Z"}, "0 30 0/2 * * ?", "UTC"),
        (
            {
                "frequency": "Day",
                "interval": 1,
                "timeZone": "W. Europe Standard Time",
                "schedule": {"hours": [2, 14], "minutes": [5]},
            },
            "0 5 2,14 * * ?",
            "Europe/Berlin",
        ),
        (
            {
                "frequency": "Week",
                "interval": 1,
                "schedule": {"weekDays": ["Monday", "Friday"], "hours": [6], "minutes": [0]},
            },
            "0 0 6 ? * MON,FRI",
            "UTC",
        ),
        (
            {
                "frequency": "Month",
                "interval": 1,
                "schedule": {"monthDays": [1, 15], "hours": [3], "minutes": [0]},
            },
            "0 0 3 1,15 * ?",
            "UTC",
        ),
    ],
)
def test_adf_schedule_triggers_become_quartz_schedules(
    recurrence: dict[str, Any], cron: str, zone: str
) -> None:
    doc = pipeline_with_triggers(
        {"name": "t", "properties": {"type": "ScheduleTrigger", "typeProperties": {"recurrence": recurrence}}}
    )
    result = load_definition(doc, required_tags=NO_TAGS)
    assert result.errors == []
    schedule = result.require().schedule
    assert schedule is not None and (schedule.quartz_cron_expression, schedule.timezone_id) == (cron, zone)


def test_adf_blob_event_trigger_becomes_a_storage_event_trigger() -> None:
    doc = pipeline_with_triggers(
        {
            "name": "t",
            "properties": {
                "type": "BlobEventsTrigger",
                "typeProperties": {
                    "blobPathBeginsWith": "/landing/blobs/daily/",
                    "blobPathEndsWith": ".csv",
                    "ignoreEmptyBlobs": True,
                    "events": ["Microsoft.Storage.BlobCreated"],
                },
            },
        },
        {
            "name": "tw",
            "properties": {"type": "TumblingWindowTrigger", "typeProperties": {"frequency": "Hour"}},
        },
    )
    result = load_definition(doc, required_tags=NO_TAGS)
    job = result.require()
    trigger = job.triggers[0]
    assert trigger.kind == "storage_event"
    assert (trigger.container, trigger.prefix, trigger.suffix, trigger.ignore_empty_blobs) == (
        "landing",
        "daily/",
        ".csv",
        True,
    )
    assert "tw" in job.home["triggers"]
    assert ("$.triggers[1]", "unsupported-kind") in [(w.path, w.code) for w in result.warnings]


def test_adf_trigger_errors_name_their_paths() -> None:
    doc = pipeline_with_triggers(
        {
            "name": "t",
            "properties": {
                "type": "BlobEventsTrigger",
                "typeProperties": {"blobPathBeginsWith": "landing/daily"},
            },
        },
        {
            "name": "s",
            "properties": {
                "type": "ScheduleTrigger",
                "typeProperties": {
                    "recurrence": {
                        "frequency": "Day",
                        "timeZone": "Atlantis Time",
                        "schedule": {"hours": [25]},
                    }
                },
            },
        },
    )
    found = {(e.path, e.code) for e in load_definition(doc, required_tags=NO_TAGS).errors}
    assert found == {
        ("$.triggers[0].properties.typeProperties.blobPathBeginsWith", "path"),
        ("$.triggers[1].properties.typeProperties.recurrence.schedule.hours[0]", "range"),
        ("$.triggers[1].properties.typeProperties.recurrence.timeZone", "timezone"),
    }
