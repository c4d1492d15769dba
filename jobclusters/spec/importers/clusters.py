"""Cluster definitions (HDInsight ARM, Synapse Spark pool ARM) and Livy batch payloads -> `Job`.

A cluster definition becomes a job with no tasks holding the cluster as a job cluster, so `show` derives
its mode and validation/lint run over it. A Livy batch (`POST /batches` body) becomes a one-task job.
"""

from __future__ import annotations

from typing import Any

from jobclusters.spec.model import (
    Autoscale,
    ClusterSpec,
    Compute,
    HivePayload,
    Job,
    JobCluster,
    LivyBatchPayload,
    MapReducePayload,
    Task,
)
from jobclusters.spec.reader import Node

HDINSIGHT_TYPE = "Microsoft.HDInsight/clusters"
SYNAPSE_POOL_TYPE = "Microsoft.Synapse/workspaces/bigDataPools"
HDINSIGHT_KINDS = ("Hadoop", "HBase", "Storm", "Spark", "InteractiveHive", "Kafka", "MLServices")
LIVY_KEYS = frozenset(
    {
        "file",
        "className",
        "args",
        "conf",
        "pyFiles",
        "jars",
        "files",
        "archives",
        "driverMemory",
        "driverCores",
        "executorMemory",
        "executorCores",
        "numExecutors",
        "queue",
        "name",
        "proxyUser",
    }
)


def _resource_type(doc: dict[str, Any]) -> str:
    kind = doc.get("type")
    return kind.lower() if isinstance(kind, str) else ""


def looks_like_hdinsight(doc: dict[str, Any]) -> bool:
    if _resource_type(doc) == HDINSIGHT_TYPE.lower():
        return True
    resources = doc.get("resources")
    return isinstance(resources, list) and any(
        isinstance(r, dict) and _resource_type(r) == HDINSIGHT_TYPE.lower() for r in resources
    )


def looks_like_synapse_pool(doc: dict[str, Any]) -> bool:
    return _resource_type(doc) == SYNAPSE_POOL_TYPE.lower()


def looks_like_livy(doc: dict[str, Any]) -> bool:
    return isinstance(doc.get("file"), str) and set(doc) <= LIVY_KEYS


#: WebHCat (Templeton) job submissions, as `az hdinsight job submit` sends them
HIVE_KEYS = frozenset({"execute", "file", "define", "arg", "files", "statusdir", "enablelog", "callback"})
MAPREDUCE_KEYS = frozenset(
    {"jar", "class", "libjars", "files", "arg", "define", "statusdir", "enablelog", "callback"}
)


def looks_like_mapreduce(doc: dict[str, Any]) -> bool:
    return "jar" in doc and "class" in doc and set(doc) <= MAPREDUCE_KEYS


def looks_like_hive(doc: dict[str, Any]) -> bool:
    if not set(doc) <= HIVE_KEYS:
        return False
    script = doc.get("file")
    return "execute" in doc or (isinstance(script, str) and script.lower().endswith((".hql", ".q", ".sql")))


def _defines(root: Node) -> dict[str, str]:
    found: dict[str, str] = {}
    for item in root.items("define"):
        text = item.value
        if isinstance(text, str) and "=" in text:
            name, _, value = text.partition("=")
            found[name] = value
        else:
            item.error(None, "expected NAME=VALUE", "type")
    return found


def import_hive(root: Node) -> Job | None:
    query, script = root.string("execute"), root.string("file")
    if (query is None) == (script is None):
        root.error(None, "a Hive job has exactly one of execute (a query) and file (a script)", "payload")
        return None
    defines = _defines(root)
    for arg in root.strings("arg"):
        name, sep, value = arg.partition("=")
        if sep:
            defines[name] = value
    task = Task(
        key="hive",
        payload=HivePayload(query=query, file=script, defines=defines),
        compute=Compute(kind="existing_cluster", cluster_id="hdinsight"),
        source_path=root.path,
    )
    return Job(name="hive-job", tasks=[task], source_format="hive")


def import_mapreduce(root: Node) -> Job | None:
    jar, cls = root.string("jar", required=True), root.string("class", required=True)
    if jar is None or cls is None:
        return None
    task = Task(
        key="mapreduce",
        payload=MapReducePayload(jar=jar, class_name=cls, args=root.strings("arg")),
        compute=Compute(kind="existing_cluster", cluster_id="hdinsight"),
        source_path=root.path,
    )
    return Job(name="mapreduce-job", tasks=[task], source_format="mapreduce")


def _tags(root: Node) -> dict[str, str]:
    return root.string_map("tags")


def import_hdinsight(root: Node) -> Job | None:
    resource = root
    if not root.has("type") and root.has("resources"):
        found = next(
            (r for r in root.objects("resources") if _resource_type(r.value) == HDINSIGHT_TYPE.lower()), None
        )
        if found is None:
            return None
        resource = found
    name = resource.string("name", required=True)
    props = resource.obj("properties", required=True)
    if name is None or props is None:
        return None
    definition = props.obj("clusterDefinition", required=True)
    kind = (
        definition.choice("kind", HDINSIGHT_KINDS, required=True, case_insensitive=True)
        if definition
        else None
    )
    spark_conf: dict[str, str] = {}
    if definition is not None:
        configs = definition.obj("configurations")
        if configs is not None:
            for section in ("spark2-defaults", "spark-defaults", "spark3-defaults"):
                spark_conf.update(configs.string_map(section))
    roles = {}
    profile = props.obj("computeProfile", required=True)
    for role in profile.objects("roles", required=True) if profile is not None else []:
        role_name = role.string("name", required=True)
        role.integer("targetInstanceCount", required=True, minimum=1)
        hardware = role.obj("hardwareProfile", required=True)
        if hardware is not None:
            hardware.string("vmSize", required=True)
        if role_name:
            roles[role_name] = role
    workers = roles.get("workernode")
    if profile is not None and workers is None:
        profile.error("roles", "required: a workernode role", "required")
    head = roles.get("headnode")
    autoscale = None
    if workers is not None:
        scale = workers.obj("autoscale")
        capacity = scale.obj("capacity") if scale is not None else None
        if capacity is not None:
            low = capacity.integer("minInstanceCount", required=True, minimum=1)
            high = capacity.integer("maxInstanceCount", required=True, minimum=1)
            if low is not None and high is not None:
                autoscale = Autoscale(min_workers=low, max_workers=high)
    spec = ClusterSpec(
        platform="hdinsight",
        name=name,
        runtime=f"{kind or 'cluster'} {props.text('clusterVersion') or ''}".strip(),
        node_type=_vm_size(workers),
        driver_node_type=_vm_size(head),
        num_workers=workers.integer("targetInstanceCount") if workers is not None else None,
        autoscale=autoscale,
        spark_conf=spark_conf,
        tags=_tags(resource),
        home=dict(resource.value),
        source_path=resource.path,
    )
    return _cluster_only_job(
        resource, name, spec, "hdinsight",
        "a cluster definition has no tasks: Spark (Livy), Hive and MapReduce jobs name it as their compute",
    )


def _cluster_only_job(node: Node, name: str, spec: ClusterSpec, source_format: str, no_tasks: str) -> Job:
    """A definition of compute alone becomes a job with that one cluster and no tasks, said in a warning."""
    node.warning(None, no_tasks, "no-tasks")
    return Job(
        name=name,
        job_clusters=[JobCluster(key=name, cluster=spec)],
        tags=dict(spec.tags),
        source_format=source_format,
    )


def _vm_size(role: Node | None) -> str | None:
    if role is None:
        return None
    hardware = role.raw("hardwareProfile")
    size = hardware.get("vmSize") if isinstance(hardware, dict) else None
    return size if isinstance(size, str) else None


def import_synapse_pool(root: Node) -> Job | None:
    name = root.string("name", required=True)
    props = root.obj("properties", required=True)
    if name is None or props is None:
        return None
    size = props.choice(
        "nodeSize", ["None", "Small", "Medium", "Large", "XLarge", "XXLarge", "XXXLarge"], required=True
    )
    count = props.integer("nodeCount", minimum=3)
    autoscale = None
    scale = props.obj("autoScale")
    if scale is not None and scale.boolean("enabled"):
        low = scale.integer("minNodeCount", required=True, minimum=3)
        high = scale.integer("maxNodeCount", required=True, minimum=3)
        if low is not None and high is not None:
            if low > high:
                scale.error("minNodeCount", f"expected minNodeCount <= maxNodeCount ({high})", "range")
            else:
                autoscale = Autoscale(min_workers=low, max_workers=high)
    elif count is None:
        props.error("nodeCount", "required: nodeCount (at least 3) or autoScale", "required")
    pause = props.obj("autoPause")
    idle = None
    if pause is not None and pause.boolean("enabled"):
        idle = pause.integer("delayInMinutes", required=True, minimum=5)
    conf_raw = props.raw("sparkConfigProperties")
    conf = (
        props.string_map("sparkConfigProperties")
        if isinstance(conf_raw, dict) and "content" not in conf_raw
        else {}
    )
    family = props.string("nodeSizeFamily")
    spec = ClusterSpec(
        platform="synapse",
        name=name,
        runtime=props.text("sparkVersion"),
        node_type=f"{family}/{size}" if family and size else size,
        num_workers=count,
        autoscale=autoscale,
        spark_conf=conf,
        tags=_tags(root),
        auto_termination_minutes=idle,
        home=dict(root.value),
        source_path=root.path,
    )
    return _cluster_only_job(
        root, name, spec, "synapse-pool",
        "a Spark pool definition has no tasks: notebooks and Spark jobs name it as their sparkPool",
    )


def import_livy(root: Node) -> Job | None:
    file = root.string("file", required=True)
    if file is None:
        return None
    name = root.string("name") or "livy-batch"
    payload = LivyBatchPayload(
        file=file,
        class_name=root.string("className"),
        args=root.strings("args"),
        conf=root.string_map("conf"),
        py_files=root.strings("pyFiles"),
        jars=root.strings("jars"),
        driver_memory=root.string("driverMemory"),
        executor_cores=root.integer("executorCores", minimum=1),
        num_executors=root.integer("numExecutors", minimum=1),
    )
    task = Task(
        key="livy-batch",
        payload=payload,
        compute=Compute(kind="existing_cluster", cluster_id="livy"),
        source_path=root.path,
    )
    return Job(name=name, tasks=[task], source_format="livy")
