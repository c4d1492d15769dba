from __future__ import annotations

import pytest
from pydantic import ValidationError

from jobclusters.spec.model import (
    Autoscale,
    ClusterSpec,
    CommandPayload,
    Compute,
    ComputeMode,
    ConditionPayload,
    Dependency,
    FanOut,
    ForEachPayload,
    Job,
    JobCluster,
    NotebookPayload,
    RetryPolicy,
    Schedule,
    StorageEventTrigger,
    Task,
)
from jobclusters.spec.modes import cluster_mode


def rich_job() -> Job:
    return Job(
        name="j",
        job_clusters=[JobCluster(key="shared", cluster=ClusterSpec(num_workers=2))],
        schedule=Schedule(quartz_cron_expression="0 0 2 * * ?", timezone_id="Europe/Paris"),
        triggers=[StorageEventTrigger(container="in", prefix="raw/", suffix=".csv")],
        tags={"Project": "p"},
        tasks=[
            Task(
                key="a",
                compute=Compute(kind="job_cluster", job_cluster_key="shared"),
                payload=NotebookPayload(path="/n", base_parameters={"x": "{{job.id}}"}),
                retry=RetryPolicy(max_retries=-1, min_retry_interval_millis=500, retry_on_timeout=True),
            ),
            Task(
                key="c",
                depends_on=[Dependency(task_key="a")],
                payload=ConditionPayload(op="EQUAL_TO", left="1", right="1"),
            ),
            Task(
                key="loop",
                depends_on=[Dependency(task_key="c", outcome="true")],
                payload=ForEachPayload(
                    inputs="[1,2]",
                    concurrency=2,
                    task=Task(key="body", compute=Compute(kind="existing_cluster", cluster_id="x")),
                ),
            ),
        ],
    )


def test_job_round_trips_through_json_as_a_durable_input() -> None:
    job = rich_job()
    again = Job.model_validate(job.model_dump(mode="json"))
    assert again == job
    assert again.model_dump(mode="json") == job.model_dump(mode="json")


def test_modes_are_derived_when_the_job_is_built() -> None:
    job = rich_job()
    assert job.tasks[0].compute is not None
    assert job.tasks[0].compute.modes == [ComputeMode.SHARED_JOB_CLUSTER]
    body = job.all_tasks()[3]
    assert body.key == "body" and body.compute is not None
    assert body.compute.modes == [ComputeMode.EXISTING_CLUSTER]


@pytest.mark.parametrize(
    ("cluster", "expected"),
    [
        (ClusterSpec(num_workers=0), [ComputeMode.ON_DEMAND_JOB_CLUSTER, ComputeMode.SINGLE_NODE]),
        (
            ClusterSpec(num_workers=2, autoscale=Autoscale(min_workers=1, max_workers=4)),
            [ComputeMode.ON_DEMAND_JOB_CLUSTER, ComputeMode.AUTOSCALE],
        ),
        (
            ClusterSpec(spark_conf={"spark.databricks.cluster.profile": "serverless"}, num_workers=3),
            [ComputeMode.ON_DEMAND_JOB_CLUSTER, ComputeMode.HIGH_CONCURRENCY],
        ),
        (
            ClusterSpec(num_workers=3, security_mode="USER_ISOLATION"),
            [ComputeMode.ON_DEMAND_JOB_CLUSTER, ComputeMode.HIGH_CONCURRENCY],
        ),
    ],
)
def test_cluster_mode_lists_lifecycle_then_traits(cluster: ClusterSpec, expected: list[ComputeMode]) -> None:
    assert cluster_mode(Compute(kind="new_cluster", cluster=cluster)) == expected


def test_serverless_compute_has_the_serverless_mode() -> None:
    assert cluster_mode(Compute(kind="serverless")) == [ComputeMode.SERVERLESS]


def test_unknown_fields_are_rejected_with_their_name() -> None:
    data = rich_job().model_dump(mode="json")
    data["tasks"][0]["retires"] = 3
    with pytest.raises(ValidationError, match="retires"):
        Job.model_validate(data)


def test_retry_below_minus_one_is_rejected() -> None:
    with pytest.raises(ValidationError, match="max_retries"):
        RetryPolicy(max_retries=-2)


def test_fan_out_names_exactly_one_source_and_round_trips() -> None:
    with pytest.raises(ValidationError, match="exactly one"):
        FanOut()
    with pytest.raises(ValidationError, match="exactly one"):
        FanOut(items=["a"], trigger_files=True)
    payload = CommandPayload(
        command_line="process {{input}}", fan_out=FanOut(blob_prefix="landing/daily/", glob="*.csv")
    )
    assert CommandPayload.model_validate(payload.model_dump(mode="json")) == payload
