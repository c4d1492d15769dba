"""Azure Batch pool JSON and job JSON -> `Job`.

A pool becomes a job with no tasks whose only content is the pool, as a job cluster keyed by the pool
id (jobs reference it through `poolInfo.poolId`). A job's tasks are its job manager task plus, as an
extension of the Batch job JSON, a `tasks` list of Batch task JSON (what `az batch task create
--json-file` takes); dependencies come from `dependsOn.taskIds` and `dependsOn.taskIdRanges`.
"""

from __future__ import annotations

import re
from typing import Any

from jobclusters.spec.model import (
    Autoscale,
    ClusterSpec,
    CommandPayload,
    Compute,
    Dependency,
    Job,
    JobCluster,
    OutputFile,
    ResourceFile,
    RetryPolicy,
    SpotPolicy,
    Task,
)
from jobclusters.spec.reader import Node

_DURATION = re.compile(
    r"^P(?:(?P<d>\d+(?:\.\d+)?)D)?(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?"
    r"(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)
_ID = re.compile(r"^[\w\-]{1,64}$")
POOL_KEYS = frozenset(
    {
        "id",
        "displayName",
        "vmSize",
        "virtualMachineConfiguration",
        "cloudServiceConfiguration",
        "resizeTimeout",
        "targetDedicatedNodes",
        "targetLowPriorityNodes",
        "enableAutoScale",
        "autoScaleFormula",
        "autoScaleEvaluationInterval",
        "enableInterNodeCommunication",
        "networkConfiguration",
        "startTask",
        "certificateReferences",
        "applicationPackageReferences",
        "applicationPackages",
        "taskSlotsPerNode",
        "taskSchedulingPolicy",
        "userAccounts",
        "metadata",
        "mountConfiguration",
        "targetNodeCommunicationMode",
        "upgradePolicy",
        "resourceTags",
        "applicationLicenses",
        "maxTasksPerNode",
    }
)
JOB_KEYS = frozenset(
    {
        "id",
        "displayName",
        "priority",
        "maxParallelTasks",
        "allowTaskPreemption",
        "constraints",
        "jobManagerTask",
        "jobPreparationTask",
        "jobReleaseTask",
        "commonEnvironmentSettings",
        "poolInfo",
        "onAllTasksComplete",
        "onTaskFailure",
        "metadata",
        "usesTaskDependencies",
        "networkConfiguration",
        "tasks",
    }
)


def looks_like_pool(doc: dict[str, Any]) -> bool:
    return (
        "vmSize" in doc
        and "poolInfo" not in doc
        and (
            "virtualMachineConfiguration" in doc
            or "cloudServiceConfiguration" in doc
            or "targetDedicatedNodes" in doc
            or "targetLowPriorityNodes" in doc
            or "enableAutoScale" in doc
        )
    )


def looks_like_job(doc: dict[str, Any]) -> bool:
    return "poolInfo" in doc or "jobManagerTask" in doc


def parse_duration(text: str) -> int | None:
    """ISO 8601 durations as Batch writes them ("PT2H", "P1DT30M") -> whole seconds."""
    match = _DURATION.match(text.strip())
    if match is None or text.strip() in {"P", "PT"} or text.strip().endswith("T"):
        return None
    parts = {k: float(v) if v else 0.0 for k, v in match.groupdict().items()}
    return int(parts["d"] * 86400 + parts["h"] * 3600 + parts["m"] * 60 + parts["s"])


def _duration(node: Node, key: str) -> int | None:
    text = node.string(key)
    if text is None:
        return None
    seconds = parse_duration(text)
    if seconds is None:
        node.error(key, f"expected an ISO 8601 duration such as PT2H, got {text!r}", "duration")
    return seconds


def _check_id(node: Node, key: str = "id") -> str | None:
    value = node.string(key, required=True)
    if value is not None and not _ID.match(value):
        node.error(key, "expected 1-64 letters, digits, '-' or '_'", "task-key")
    return value


def _name_values(node: Node, key: str) -> dict[str, str]:
    found = {}
    for item in node.objects(key):
        name = item.string("name", required=True)
        value = item.text("value", default="") or ""
        if name is not None:
            found[name] = value
    return found


# ------------------------------------------------------------------ pools


def pool_spec(node: Node) -> ClusterSpec | None:
    node.check_keys(POOL_KEYS, what="a Batch pool", severity="warning")
    pool_id = _check_id(node)
    vm_size = node.string("vmSize", required=True)
    dedicated = node.integer("targetDedicatedNodes", minimum=0)
    low_priority = node.integer("targetLowPriorityNodes", minimum=0)
    autoscale = None
    if node.boolean("enableAutoScale"):
        formula = node.string("autoScaleFormula", required=True)
        for key, value in (("targetDedicatedNodes", dedicated), ("targetLowPriorityNodes", low_priority)):
            if value is not None:
                node.error(
                    key,
                    "must not be set when enableAutoScale is true (Batch rejects the pool); "
                    "the autoScaleFormula decides the node counts",
                    "autoscale",
                )
        interval = _duration(node, "autoScaleEvaluationInterval")
        if interval is not None and not 300 <= interval <= 168 * 3600:
            node.error("autoScaleEvaluationInterval", "expected between PT5M and PT168H", "range")
        autoscale = Autoscale(min_workers=0, formula=formula)
    elif dedicated is None and low_priority is None:
        node.error(
            None, "required: targetDedicatedNodes or targetLowPriorityNodes (or enableAutoScale)", "required"
        )
    spot = None
    formula_text = autoscale.formula if autoscale and autoscale.formula else ""
    if (low_priority or 0) > 0 or "$TargetLowPriorityNodes" in formula_text:
        fallback = (dedicated or 0) > 0 or "$TargetDedicatedNodes" in formula_text
        spot = SpotPolicy(on_demand_nodes=dedicated or 0, fallback_to_on_demand=fallback)
    node.integer("taskSlotsPerNode", minimum=1)
    image = node.obj("virtualMachineConfiguration")
    runtime = None
    if image is not None:
        ref = image.obj("imageReference")
        image.string("nodeAgentSkuId", required=True)
        if ref is not None:
            runtime = ":".join(str(ref.raw(k, "")) for k in ("publisher", "offer", "sku", "version"))
    start = node.obj("startTask")
    if start is not None:
        start.string("commandLine", required=True)
    total = None if autoscale else (dedicated or 0) + (low_priority or 0)
    return ClusterSpec(
        platform="batch",
        name=pool_id,
        runtime=runtime,
        node_type=vm_size,
        num_workers=total,
        autoscale=autoscale,
        spot=spot,
        tags=_name_values(node, "metadata"),
        env=_name_values(start, "environmentSettings") if start is not None else {},
        home=dict(node.value),
        source_path=node.path,
    )


def import_pool(root: Node) -> Job | None:
    spec = pool_spec(root)
    if spec is None or spec.name is None:
        return None
    root.warning(
        None, "a pool definition has no tasks: jobs run on it by naming it in poolInfo.poolId", "no-tasks"
    )
    return Job(
        name=spec.name,
        description=root.string("displayName"),
        job_clusters=[JobCluster(key=spec.name, cluster=spec)],
        tags=dict(spec.tags),
        source_format="batch-pool",
    )


# ------------------------------------------------------------------ jobs and tasks


def import_job(root: Node) -> Job | None:
    root.check_keys(JOB_KEYS, what="a Batch job", severity="warning")
    job_id = _check_id(root)
    if job_id is None:
        return None
    compute, clusters = _pool_info(root)
    constraints = root.obj("constraints")
    job_timeout = _duration(constraints, "maxWallClockTime") if constraints is not None else None
    default_retries = (
        constraints.integer("maxTaskRetryCount", minimum=-1) if constraints is not None else None
    )
    root.choice("onAllTasksComplete", ["noaction", "terminatejob"], case_insensitive=True)
    root.choice("onTaskFailure", ["noaction", "performexitoptionsjobaction"], case_insensitive=True)
    uses_dependencies = root.boolean("usesTaskDependencies")
    tasks: list[Task] = []
    manager = root.obj("jobManagerTask")
    if manager is not None:
        task = _task(manager, compute, default_retries, role="job_manager")
        if task is not None:
            tasks.append(task)
    for node in root.objects("tasks"):
        task = _task(node, compute, default_retries, role="task")
        if task is None:
            continue
        if task.depends_on and not uses_dependencies:
            node.error(
                "dependsOn", "task dependencies need usesTaskDependencies: true on the job", "dependencies"
            )
        tasks.append(task)
    setup = []
    for key, role in (("jobPreparationTask", "job_preparation"), ("jobReleaseTask", "job_release")):
        extra = root.obj(key)
        if extra is not None:
            if not extra.has("id"):
                extra.value = {**extra.value, "id": role.replace("_", "-")}
            task = _task(extra, compute, default_retries, role=role)
            if task is not None:
                setup.append(task)
    if not tasks:
        root.warning(
            None, "no jobManagerTask and no tasks: the job runs nothing until tasks are added", "no-tasks"
        )
    return Job(
        name=job_id,
        description=root.string("displayName"),
        tasks=tasks,
        setup_tasks=setup,
        job_clusters=clusters,
        environment=_name_values(root, "commonEnvironmentSettings"),
        timeout_seconds=job_timeout,
        tags=_name_values(root, "metadata"),
        source_format="batch-job",
        home={
            k: root.raw(k)
            for k in ("poolInfo", "onAllTasksComplete", "onTaskFailure", "priority", "maxParallelTasks")
            if root.has(k)
        },
    )


def _pool_info(root: Node) -> tuple[Compute | None, list[JobCluster]]:
    info = root.obj("poolInfo", required=True)
    if info is None:
        return None, []
    has_id, has_auto = info.has("poolId"), info.has("autoPoolSpecification")
    if has_id == has_auto:
        info.error(None, "expected exactly one of poolId and autoPoolSpecification", "compute")
    if has_id:
        pool_id = info.string("poolId", required=True)
        return (Compute(kind="pool", cluster_id=pool_id) if pool_id else None), []
    auto = info.obj("autoPoolSpecification")
    if auto is None:
        return None, []
    auto.choice("poolLifetimeOption", ["job", "jobschedule"], required=True, case_insensitive=True)
    auto.boolean("keepAlive")
    pool = auto.obj("pool", required=True)
    spec = None
    if pool is not None:
        if not pool.has("id"):
            pool.value = {**pool.value, "id": auto.string("autoPoolIdPrefix") or "autopool"}
        spec = pool_spec(pool)
    if spec is None:
        return None, []
    key = auto.string("autoPoolIdPrefix") or "autopool"
    return Compute(kind="job_cluster", job_cluster_key=key), [JobCluster(key=key, cluster=spec)]


def _task(node: Node, compute: Compute | None, default_retries: int | None, *, role: str) -> Task | None:
    task_id = _check_id(node)
    command = node.string("commandLine", required=True)
    if task_id is None or command is None:
        return None
    constraints = node.obj("constraints")
    retries = default_retries or 0
    timeout = None
    if constraints is not None:
        retries = constraints.integer("maxTaskRetryCount", minimum=-1, default=retries) or 0
        timeout = _duration(constraints, "maxWallClockTime")
        _duration(constraints, "retentionTime")
    if role == "task" or role == "job_manager":
        node.integer("requiredSlots", minimum=1)
    identity = node.obj("userIdentity")
    elevated = False
    if identity is not None:
        auto = identity.obj("autoUser")
        if auto is not None:
            elevated = auto.choice("elevationLevel", ["nonadmin", "admin"], case_insensitive=True) == "admin"
    multi = node.obj("multiInstanceSettings")
    instances = multi.integer("numberOfInstances", default=1, minimum=1) or 1 if multi is not None else 1
    return Task(
        key=task_id,
        description=node.string("displayName"),
        depends_on=_dependencies(node),
        compute=compute.model_copy() if compute is not None else None,
        payload=CommandPayload(
            command_line=command,
            resource_files=_resource_files(node),
            output_files=_output_files(node),
            role=role,  # type: ignore[arg-type]
            elevated=elevated,
            instances=instances,
            home={
                k: node.raw(k)
                for k in (
                    "exitConditions",
                    "containerSettings",
                    "affinityInfo",
                    "applicationPackageReferences",
                    "killJobOnCompletion",
                    "runExclusive",
                    "waitForSuccess",
                    "rerunOnNodeRebootAfterSuccess",
                )
                if node.has(k)
            },
        ),
        retry=RetryPolicy(max_retries=retries),
        timeout_seconds=timeout,
        environment=_name_values(node, "environmentSettings"),
        source_path=node.path,
    )


def _dependencies(node: Node) -> list[Dependency]:
    deps = node.obj("dependsOn")
    if deps is None:
        return []
    keys = list(deps.strings("taskIds"))
    for span in deps.objects("taskIdRanges"):
        start, end = (
            span.integer("start", required=True, minimum=0),
            span.integer("end", required=True, minimum=0),
        )
        if start is None or end is None:
            continue
        if end < start or end - start > 10000:
            span.error("end", f"expected a range of at most 10000 ids with end >= start ({start})", "range")
            continue
        keys.extend(str(i) for i in range(start, end + 1))
    return [Dependency(task_key=key) for key in dict.fromkeys(keys)]


def _resource_files(node: Node) -> list[ResourceFile]:
    found = []
    for item in node.objects("resourceFiles"):
        sources = [k for k in ("httpUrl", "storageContainerUrl", "autoStorageContainerName") if item.has(k)]
        if len(sources) != 1:
            item.error(
                None,
                "expected exactly one of httpUrl, storageContainerUrl, autoStorageContainerName",
                "resource-file",
            )
            continue
        found.append(
            ResourceFile(
                http_url=item.string("httpUrl"),
                storage_container_url=item.string("storageContainerUrl"),
                auto_storage_container_name=item.string("autoStorageContainerName"),
                file_path=item.string("filePath", required=item.has("httpUrl")),
                blob_prefix=item.string("blobPrefix"),
            )
        )
    return found


def _output_files(node: Node) -> list[OutputFile]:
    found = []
    for item in node.objects("outputFiles"):
        pattern = item.string("filePattern", required=True)
        destination = item.obj("destination", required=True)
        container = destination.obj("container", required=True) if destination is not None else None
        url = container.string("containerUrl", required=True) if container is not None else None
        options = item.obj("uploadOptions", required=True)
        condition = (
            options.choice(
                "uploadCondition",
                ["taskSuccess", "taskFailure", "taskCompletion"],
                required=True,
                case_insensitive=True,
            )
            if options is not None
            else None
        )
        if pattern is None or url is None or container is None:
            continue
        found.append(
            OutputFile(
                file_pattern=pattern,
                container_url=url,
                path=container.string("path"),
                upload_condition=condition or "taskCompletion",  # type: ignore[arg-type]
            )
        )
    return found
