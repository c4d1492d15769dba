"""A spec `Task` with a `command` payload as Batch requests: where its pool comes from, its job, its tasks.

Cluster modes: a new cluster is an on-demand pool created for the attempt and deleted after it; a `pool`
or existing cluster is a pool that exists and is never touched; a Batch job's `autoPoolSpecification`
(imported as a job cluster) becomes an autopool that Batch creates and deletes with the job. Without any
compute (local definitions) the attempt gets a small on-demand pool.
"""

from __future__ import annotations

import re
from datetime import timedelta

from jobclusters.execution.ids import batch_id
from jobclusters.execution.job_files import resource_file
from jobclusters.execution.messages import TaskRunInput
from jobclusters.services.batch import (
    EnvironmentSetting,
    JobConstraints,
    JobSpec,
    NameValue,
    OutputFile,
    OutputFileContainer,
    OutputFileDestination,
    OutputFileUploadOptions,
    PoolPlacement,
    PoolRef,
    PoolSpec,
    ResourceFile,
    TaskConstraints,
    TaskSpec,
    pool_from_rest,
)
from jobclusters.spec.model import ClusterSpec, CommandPayload

DEFAULT_VM_SIZE = "standard_d2s_v3"
DEFAULT_SLOTS_PER_NODE = 4
INPUT_PLACEHOLDER = "{{input}}"
TASKS_PER_CHUNK = 1000
# Batch limits: a job display name up to 1024 characters, a metadata value up to 512.
DISPLAY_NAME_MAX_CHARS = 1024
METADATA_VALUE_MAX_CHARS = 512
_APP_SETTING_REF = re.compile(r"^%([A-Za-z_][A-Za-z0-9_]*)%$")


class BatchMappingError(ValueError):
    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path


def pool_spec_from_cluster(cluster: ClusterSpec | None, pool_id: str) -> PoolSpec:
    """The home Batch pool JSON when the definition came from Batch, else a pool built from the fields."""
    if cluster is not None and cluster.platform == "batch" and cluster.home.get("vmSize"):
        return pool_from_rest({**cluster.home, "id": pool_id})
    if cluster is None:
        return PoolSpec(
            id=pool_id,
            vm_size=DEFAULT_VM_SIZE,
            target_dedicated_nodes=1,
            task_slots_per_node=DEFAULT_SLOTS_PER_NODE,
        )
    nodes = cluster.num_workers if cluster.num_workers is not None else 1
    spot = cluster.spot
    dedicated, low = (spot.on_demand_nodes, max(0, nodes - spot.on_demand_nodes)) if spot else (nodes, 0)
    formula = cluster.autoscale.formula if cluster.autoscale else None
    return PoolSpec(
        id=pool_id,
        vm_size=cluster.node_type or DEFAULT_VM_SIZE,
        target_dedicated_nodes=None if formula else max(dedicated, 0 if low else 1),
        target_low_priority_nodes=None if formula else (low or None),
        enable_auto_scale=formula is not None,
        auto_scale_formula=formula,
        task_slots_per_node=DEFAULT_SLOTS_PER_NODE,
        metadata=[NameValue(name=k, value=v) for k, v in sorted(cluster.tags.items())],
    )


def pool_placement(run: TaskRunInput, attempt_id: str) -> PoolPlacement:
    compute = run.task.compute
    on_demand_id = batch_id("pool", attempt_id)
    if compute is None or compute.kind == "serverless":
        return PoolPlacement(mode="onDemand", pool=pool_spec_from_cluster(None, on_demand_id))
    if compute.kind in ("pool", "existing_cluster"):
        if not compute.cluster_id:
            raise BatchMappingError(
                f"{run.task.source_path or '$'}.compute.cluster_id", "an existing pool needs its id"
            )
        return PoolPlacement(mode="existing", pool_id=compute.cluster_id, stand_in_if_missing=True)
    if compute.kind == "new_cluster":
        return PoolPlacement(mode="onDemand", pool=pool_spec_from_cluster(compute.cluster, on_demand_id))
    cluster = run.job_cluster.cluster if run.job_cluster is not None else None
    auto = (run.job_home.get("poolInfo") or {}).get("autoPoolSpecification")
    if isinstance(auto, dict):
        prefix = str(auto.get("autoPoolIdPrefix") or "jc")[:20]
        pool = pool_spec_from_cluster(cluster, batch_id("autopool", attempt_id)) if cluster else None
        if pool is None:
            raise BatchMappingError("$.poolInfo.autoPoolSpecification.pool", "the autopool has no pool")
        return PoolPlacement(
            mode="autoPool", pool=pool, auto_pool_id_prefix=prefix, keep_alive=bool(auto.get("keepAlive"))
        )
    return PoolPlacement(mode="onDemand", pool=pool_spec_from_cluster(cluster, on_demand_id))


def environment_settings(values: dict[str, str]) -> list[EnvironmentSetting]:
    """`%APP_SETTING%` values become secret references, resolved by the service, never carried."""
    settings = []
    for name, value in sorted(values.items()):
        ref = _APP_SETTING_REF.match(value)
        if ref:
            settings.append(EnvironmentSetting(name=name, secret_ref=ref.group(1)))
        else:
            settings.append(EnvironmentSetting(name=name, value=value))
    return settings


def job_spec(run: TaskRunInput, job_id: str, pool: PoolRef) -> JobSpec:
    timeout = run.task.timeout_seconds
    return JobSpec(
        id=job_id,
        pool_info=pool.pool_info(),
        display_name=f"{run.job_name} / {run.task.key}"[:DISPLAY_NAME_MAX_CHARS],
        constraints=JobConstraints(max_wall_clock_time=timedelta(seconds=timeout)) if timeout else None,
        common_environment_settings=environment_settings({**run.environment, **run.task.environment}),
        on_all_tasks_complete="noAction",
        metadata=[
            NameValue(name="jobclusters-run", value=run.run_id),
            NameValue(name="jobclusters-task", value=run.task.key[:METADATA_VALUE_MAX_CHARS]),
        ],
    )


def _resource_files(payload: CommandPayload) -> list[ResourceFile]:
    return [
        ResourceFile(
            http_url=f.http_url,
            storage_container_url=f.storage_container_url,
            auto_storage_container_name=f.auto_storage_container_name,
            blob_prefix=f.blob_prefix,
            file_path=f.file_path,
        )
        for f in payload.resource_files
    ]


def _output_files(payload: CommandPayload) -> list[OutputFile]:
    return [
        OutputFile(
            file_pattern=f.file_pattern,
            destination=OutputFileDestination(
                container=OutputFileContainer(container_url=f.container_url, path=f.path)
            ),
            upload_options=OutputFileUploadOptions(upload_condition=f.upload_condition),
        )
        for f in payload.output_files
    ]


def task_spec(
    payload: CommandPayload,
    task_id: str,
    index: int,
    input_value: str | None,
    max_retries: int = 0,
    extra_output_files: list[OutputFile] | None = None,
    job_files: str | None = None,
) -> TaskSpec:
    """One Batch task for one input: `{{input}}` in the command line and `JOBCLUSTERS_INPUT` carry it.
    `extra_output_files`: the task's own log upload (`batch_logs.log_output_file`), listed first so it
    is tried first. `job_files`: the container of the staged job folder, downloaded first so the task's own
    resource files win."""
    command = payload.command_line
    env = [EnvironmentSetting(name="JOBCLUSTERS_INPUT_INDEX", value=str(index))]
    if input_value is not None:
        command = command.replace(INPUT_PLACEHOLDER, input_value)
        env.append(EnvironmentSetting(name="JOBCLUSTERS_INPUT", value=input_value))
    return TaskSpec(
        id=task_id,
        command_line=command,
        resource_files=([resource_file(job_files)] if job_files else []) + _resource_files(payload),
        output_files=list(extra_output_files or []) + _output_files(payload),
        environment_settings=env,
        constraints=TaskConstraints(max_task_retry_count=max_retries),
        user_identity={"autoUser": {"scope": "task", "elevationLevel": "admin"}}
        if payload.elevated
        else None,
        multi_instance_settings={"numberOfInstances": payload.instances} if payload.instances > 1 else None,
    )


def chunk_ranges(count: int, per_chunk: int = TASKS_PER_CHUNK) -> list[tuple[int, int]]:
    """Half-open index ranges covering `range(count)`, each handled by one add-tasks activity."""
    if per_chunk < 1:
        raise ValueError("per_chunk must be >= 1")
    return [(start, min(count, start + per_chunk)) for start in range(0, count, per_chunk)]


def compute_label(pool: PoolRef) -> str:
    where = pool.pool_id or (
        pool.auto_pool_specification.auto_pool_id_prefix if pool.auto_pool_specification else None
    )
    spot = " spot" if pool.low_priority else ""
    stand_in = "local stand-in for " if pool.stand_in else ""
    size = f"{pool.node_count} x {pool.vm_size or '?'}{spot}"
    return f"batch {stand_in}{pool.mode} pool {where or '?'} ({size})"


def compute_info(pool: PoolRef) -> dict[str, object]:
    """The tracking record's compute fields (`jobclusters.tracking.models.ComputeInfo`)."""
    where = pool.pool_id or (
        pool.auto_pool_specification.auto_pool_id_prefix if pool.auto_pool_specification else None
    )
    return {
        "kind": "batch",
        "pool_or_cluster": where,
        "node_size": pool.vm_size,
        "node_count": pool.node_count,
        "spot": pool.low_priority,
        "mode": "existing (local stand-in)" if pool.stand_in else pool.mode,
    }
