"""A spec `Task` with a Spark/Hadoop payload as one `ClusterRunRequest`, and the backend that runs it."""

from __future__ import annotations

from typing import Any

from jobclusters.execution.ids import cluster_task_key
from jobclusters.execution.messages import TaskRunInput
from jobclusters.services import cluster as c
from jobclusters.spec import model as m


class ClusterMappingError(ValueError):
    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path


# Longest custom tag value and run name/id we send; longer values are cut, not refused.
_TAG_CHARS = 256
_RUN_NAME_CHARS = 200
_PLATFORM_BACKENDS = {"databricks": "databricks", "hdinsight": "livy", "synapse": "synapse", "local": "local"}


def task_cluster(run: TaskRunInput) -> m.ClusterSpec | None:
    compute = run.task.compute
    if compute is None:
        return None
    if compute.cluster is not None:
        return compute.cluster
    if compute.kind == "job_cluster" and run.job_cluster is not None:
        return run.job_cluster.cluster
    return None


def platform_backend(run: TaskRunInput) -> str:
    """The Azure backend of the task's cluster platform (`factory.cluster_backend` decides local mode)."""
    cluster = task_cluster(run)
    if cluster is not None:
        return _PLATFORM_BACKENDS.get(cluster.platform, "databricks")
    payload = run.task.payload
    if payload is not None and payload.kind in ("livy_batch", "hive", "mapreduce"):
        return "livy"
    if payload is not None and payload.kind == "sql":
        return "sql_warehouse"
    return "databricks"


def cluster_spec(spec: m.ClusterSpec) -> c.ClusterRequest:
    if spec.platform == "databricks" and spec.home:
        return c.ClusterRequest.model_validate(spec.home)
    data: dict[str, Any] = {
        "spark_version": spec.runtime,
        "node_type_id": spec.node_type,
        "driver_node_type_id": spec.driver_node_type,
        "spark_conf": spec.spark_conf,
        "spark_env_vars": spec.env,
        "custom_tags": spec.tags,
        "instance_pool_id": spec.instance_pool_id,
        "cluster_name": spec.name,
    }
    if spec.autoscale is not None and spec.autoscale.max_workers:
        data["autoscale"] = {
            "min_workers": spec.autoscale.min_workers,
            "max_workers": spec.autoscale.max_workers,
        }
    else:
        data["num_workers"] = spec.num_workers if spec.num_workers is not None else 0
    if spec.spot is not None:
        data["azure_attributes"] = {
            "availability": "SPOT_WITH_FALLBACK_AZURE" if spec.spot.fallback_to_on_demand else "SPOT_AZURE",
            "first_on_demand": spec.spot.on_demand_nodes,
            **({"spot_bid_max_price": spec.spot.max_price} if spec.spot.max_price is not None else {}),
        }
    return c.ClusterRequest.model_validate({k: v for k, v in data.items() if v is not None})


def _library(lib: m.Library) -> c.LibraryRequest | None:
    if lib.kind == "pypi":
        return c.LibraryRequest(pypi=c.PypiLibrary(package=lib.value, repo=lib.repo))
    if lib.kind == "maven":
        return c.LibraryRequest(
            maven=c.MavenLibrary(coordinates=lib.value, repo=lib.repo, exclusions=lib.exclusions)
        )
    if lib.kind == "whl":
        return c.LibraryRequest(whl=lib.value)
    if lib.kind == "jar":
        return c.LibraryRequest(jar=lib.value)
    if lib.kind == "requirements":
        return c.LibraryRequest(requirements=lib.value)
    return None


def _payload(task: m.Task) -> dict[str, Any]:
    p = task.payload
    if isinstance(p, m.NotebookPayload):
        return {"notebook_task": c.NotebookTask(notebook_path=p.path, base_parameters=p.base_parameters)}
    if isinstance(p, m.SparkPythonPayload):
        return {"spark_python_task": c.SparkPythonTask(python_file=p.python_file, parameters=p.parameters)}
    if isinstance(p, m.PythonWheelPayload):
        return {
            "python_wheel_task": c.PythonWheelTask(
                package_name=p.package_name,
                entry_point=p.entry_point,
                parameters=p.parameters,
                named_parameters=p.named_parameters,
            )
        }
    if isinstance(p, m.SparkJarPayload):
        return {
            "spark_jar_task": c.SparkJarTask(
                main_class_name=p.main_class_name, parameters=p.parameters, jar_uri=p.jar_uri
            )
        }
    if isinstance(p, m.SparkSubmitPayload):
        return {"spark_submit_task": c.SparkSubmitTask(parameters=p.parameters)}
    if isinstance(p, m.LivyBatchPayload):
        return {
            "spark_batch_task": c.SparkBatchTask.model_validate(
                {
                    "file": p.file,
                    "className": p.class_name,
                    "args": p.args,
                    "conf": p.conf,
                    "pyFiles": p.py_files,
                    "jars": p.jars,
                    "driverMemory": p.driver_memory,
                    "executorCores": p.executor_cores,
                    "numExecutors": p.num_executors,
                }
            )
        }
    if isinstance(p, m.SqlPayload):
        return {"sql_task": sql_task(p, f"{task.source_path or '$'}.payload.query")}
    if isinstance(p, m.HivePayload):
        return {"hive_task": c.HiveTask(query=p.query, file=p.file, defines=p.defines)}
    if isinstance(p, m.MapReducePayload):
        return {"mapreduce_task": c.MapReduceTask(jar=p.jar, class_name=p.class_name, args=p.args)}
    kind = p.kind if p is not None else "none"
    raise ClusterMappingError(
        f"{task.source_path or '$'}.payload", f"kind {kind!r} does not run on a cluster"
    )


def cluster_request(run: TaskRunInput, attempt_id: str, backend: str) -> c.ClusterRunRequest:
    """One-task run request; the attempt id is the request's run id (it ends up in cluster tags)."""
    task = run.task
    compute = task.compute
    fields: dict[str, Any] = {"task_key": cluster_task_key(task.key), **_payload(task)}
    fields["libraries"] = [lib for lib in (_library(x) for x in task.libraries) if lib is not None]
    fields["timeout_seconds"] = task.timeout_seconds or None
    job_clusters: list[c.JobClusterRequest] = []
    spark_pool = None
    if compute is not None and backend != "local":
        if compute.kind == "new_cluster" and compute.cluster is not None:
            fields["new_cluster"] = cluster_spec(compute.cluster)
        elif compute.kind == "job_cluster" and run.job_cluster is not None:
            fields["job_cluster_key"] = run.job_cluster.key
            job_clusters.append(
                c.JobClusterRequest(
                    job_cluster_key=run.job_cluster.key, new_cluster=cluster_spec(run.job_cluster.cluster)
                )
            )
        elif compute.kind in ("existing_cluster", "pool") and compute.cluster_id:
            if backend == "synapse":
                spark_pool = c.SparkPoolSettings(pool_name=compute.cluster_id)
            else:
                fields["existing_cluster_id"] = compute.cluster_id
    elif compute is not None and compute.kind in ("existing_cluster", "pool") and compute.cluster_id:
        fields["existing_cluster_id"] = compute.cluster_id  # named only: the local Spark stands in for it
    elif compute is not None:
        cluster = task_cluster(run)
        if cluster is not None:
            fields["new_cluster"] = cluster_spec(cluster)
    tags = {**run.tags, "jobclusters-run": run.run_id[:_TAG_CHARS], "jobclusters-task": task.key[:_TAG_CHARS]}
    return c.ClusterRunRequest(
        warm_cluster=warm_cluster(run) if backend == "local" else None,
        run_id=attempt_id[:_RUN_NAME_CHARS],
        run_name=f"{run.job_name} / {task.key}"[:_RUN_NAME_CHARS],
        tasks=[c.ClusterTask(**fields)],
        job_clusters=job_clusters,
        timeout_seconds=task.timeout_seconds or None,
        tags=tags,
        spark_pool=spark_pool,
        base_dir=run.base_dir,
    )


#: a job cluster's warm driver outlives the run's last task on it by this much (the next task of a chain
#: is submitted well within it)
JOB_CLUSTER_IDLE_SECONDS = 20.0
#: an existing cluster or pool without a known auto-termination time
EXISTING_CLUSTER_IDLE_SECONDS = 600.0


def warm_cluster(run: TaskRunInput) -> c.WarmCluster | None:
    """The shared cluster a task runs on, if any: the tasks of one run on one job cluster, or the tasks
    naming one existing cluster or pool (new clusters are the task's own)."""
    compute = run.task.compute
    if compute is None:
        return None
    if compute.kind == "job_cluster" and run.job_cluster is not None:
        return c.WarmCluster(
            key=f"job/{run.run_id}/{run.job_cluster.key}", idle_seconds=JOB_CLUSTER_IDLE_SECONDS
        )
    if compute.kind in ("existing_cluster", "pool") and compute.cluster_id:
        minutes = compute.cluster.auto_termination_minutes if compute.cluster is not None else None
        idle = minutes * 60.0 if minutes else EXISTING_CLUSTER_IDLE_SECONDS
        return c.WarmCluster(key=f"{compute.kind}/{compute.cluster_id}", idle_seconds=idle)
    return None


def compute_label(backend: str, request: c.ClusterRunRequest) -> str:
    """Existing compute (a cluster id, a Spark pool, a linked service) runs on the local backend's own
    Spark on the embedded default: the label says it is a stand-in."""
    task = request.tasks[0]
    where = "local stand-in for" if backend == "local" else backend
    if task.existing_cluster_id:
        return f"{where} existing cluster {task.existing_cluster_id}"
    cluster = request.cluster_for(task)
    if cluster is None:
        return f"{backend} cluster" + (f" pool {request.spark_pool.pool_name}" if request.spark_pool else "")
    size = f"{cluster.max_workers} workers" if not cluster.single_node else "single node"
    return f"{backend} job cluster ({size}, {cluster.node_type_id or 'default node'})"


_TRACKING_KINDS = {"databricks": "databricks", "livy": "hdinsight", "synapse": "synapse", "local": "local"}


def compute_info(backend: str, request: c.ClusterRunRequest) -> dict[str, object]:
    """The tracking record's compute fields (`jobclusters.tracking.models.ComputeInfo`)."""
    task = request.tasks[0]
    cluster = request.cluster_for(task)
    where: str | None
    if task.existing_cluster_id:
        mode, where = "existing_cluster", task.existing_cluster_id
    elif task.job_cluster_key:
        mode, where = "shared_job_cluster", task.job_cluster_key
    elif cluster is not None:
        mode, where = "on_demand_job_cluster", cluster.cluster_name
    else:
        mode, where = (
            ("spark_pool", request.spark_pool.pool_name) if request.spark_pool else ("default", None)
        )
    if backend == "local" and task.existing_cluster_id:
        mode = f"{mode} (local stand-in)"
    spot = None
    if cluster is not None and cluster.azure_attributes is not None and cluster.azure_attributes.availability:
        spot = cluster.azure_attributes.availability != "ON_DEMAND_AZURE"
    return {
        "kind": _TRACKING_KINDS.get(backend, "databricks"),
        "pool_or_cluster": where,
        "node_size": cluster.node_type_id if cluster else None,
        "node_count": (cluster.max_workers + 1) if cluster else None,
        "spot": spot,
        "mode": mode,
        **_cost_fields(request, cluster),
    }


def _cost_fields(request: c.ClusterRunRequest, cluster: c.ClusterRequest | None) -> dict[str, object]:
    """What pricing needs beyond the label: the node range (driver included), the driver's size, a spot
    fallback, and a Synapse pool's node size and count."""
    if cluster is not None:
        least = cluster.autoscale.min_workers if cluster.autoscale else cluster.max_workers
        attributes = cluster.azure_attributes
        return {
            "nodes_min": least + 1,
            "nodes_max": cluster.max_workers + 1,
            "driver_node_size": cluster.driver_node_type_id,
            "spot_fallback": bool(attributes and attributes.availability == "SPOT_WITH_FALLBACK_AZURE"),
        }
    pool = request.spark_pool
    if pool is None:
        return {}
    scale = pool.auto_scale
    low = scale.min_node_count if scale and scale.enabled else pool.node_count
    high = scale.max_node_count if scale and scale.enabled else pool.node_count
    return {"node_size": pool.node_size, "nodes_min": low, "nodes_max": high, "node_count": high}


def sql_task(p: m.SqlPayload, path: str) -> c.SqlTask:
    """`file.path` (a `.sql` file) or, in the native format, `query.query_text`. A saved query
    (`query_id`), dashboard or alert lives in a Databricks workspace: refused with the way out."""
    parameters = {k: str(v) for k, v in p.parameters.items()}
    warehouse = p.warehouse_id or None
    file = p.query.get("file")
    if isinstance(file, dict) and isinstance(file.get("path"), str):
        return c.SqlTask(warehouse_id=warehouse, file=file["path"], parameters=parameters)
    query = p.query.get("query")
    if isinstance(query, dict) and isinstance(query.get("query_text"), str):
        return c.SqlTask(warehouse_id=warehouse, query_text=query["query_text"], parameters=parameters)
    kind = next(iter(p.query), "nothing")
    raise ClusterMappingError(
        path,
        f"a sql_task with {kind} cannot be run by this app (saved queries, dashboards and alerts live in a "
        "Databricks workspace): give the SQL as file.path (a .sql file) or query.query_text",
    )
