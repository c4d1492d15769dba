"""Synapse / Azure Data Factory pipeline JSON -> `Job` (ADF rules: conditions per dependency).

Runnable activity types map to payloads (SynapseNotebook, SparkJob, DatabricksNotebook / SparkPython /
SparkJar, Custom on Batch, HDInsight Spark / Hive / MapReduce, Fail). IfCondition / Switch expand into
the run's DAG (adf_branches.py); ForEach and Until read their inner activities like top-level ones.
Control-flow activities not run here are parsed and kept as
`UnsupportedPayload` with a warning, never dropped.
"""

from __future__ import annotations

import re
from typing import Any

from jobclusters.spec.importers import adf_control
from jobclusters.spec.importers.adf_branches import expand_activities
from jobclusters.spec.importers.adf_control import unwrap_expression
from jobclusters.spec.importers.adf_data import DATA_TYPES, read_data_activity
from jobclusters.spec.importers.adf_triggers import import_triggers
from jobclusters.spec.model import (
    BlockPayload,
    CommandPayload,
    Compute,
    Dependency,
    DependencyCondition,
    EngineRules,
    FailPayload,
    ForEachPayload,
    HivePayload,
    Job,
    JobParameter,
    LivyBatchPayload,
    MapReducePayload,
    NotebookPayload,
    Payload,
    RetryPolicy,
    SparkJarPayload,
    SparkPythonPayload,
    Task,
    UnsupportedPayload,
    UntilPayload,
)
from jobclusters.spec.reader import Node

DEFAULT_TIMEOUT_SECONDS = 7 * 24 * 3600
CONTROL_TYPES = frozenset(
    {
        "ForEach",
        "Until",
        "IfCondition",
        "Switch",
        "SetVariable",
        "AppendVariable",
        "Wait",
        "ExecutePipeline",
        "Filter",
        "Lookup",
        "Copy",
        "WebActivity",
        "WebHook",
        "GetMetadata",
        "Validation",
        "Delete",
        "Script",
        "SqlServerStoredProcedure",
        "ExecuteDataFlow",
        "AzureFunctionActivity",
    }
)
_TIMESPAN = re.compile(r"^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})$")
_ACTIVITY_KEYS = frozenset(
    {
        "name",
        "type",
        "description",
        "dependsOn",
        "policy",
        "userProperties",
        "typeProperties",
        "linkedServiceName",
        "state",
        "onInactiveMarkAs",
    }
)


def looks_like(doc: dict[str, Any]) -> bool:
    props = doc.get("properties")
    return (isinstance(props, dict) and isinstance(props.get("activities"), list)) or isinstance(
        doc.get("activities"), list
    )


def parse_timespan(text: str) -> int | None:
    """ADF policy timeouts: "d.hh:mm:ss" or "hh:mm:ss" -> seconds."""
    match = _TIMESPAN.match(text.strip())
    if match is None:
        return None
    days, hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    if hours > 23 or minutes > 59 or seconds > 59:
        return None
    return ((days * 24 + hours) * 60 + minutes) * 60 + seconds


def import_job(root: Node) -> Job | None:
    props = root.obj("properties") if root.has("properties") else root
    if props is None:
        return None
    name = root.string("name") or "pipeline"
    tasks = import_activities(props.objects("activities", required=True))
    parameters = []
    params = props.obj("parameters")
    if params is not None:
        for pname in params.field_names():
            spec = params.obj(pname)
            if spec is None:
                continue
            spec.choice(
                "type",
                ["string", "int", "float", "bool", "array", "object", "securestring"],
                required=True,
                case_insensitive=True,
            )
            parameters.append(
                JobParameter(name=pname, default=spec.raw("defaultValue"), type=spec.raw("type"))
            )
    variables: dict[str, Any] = {}
    var_node = props.obj("variables")
    if var_node is not None:
        for vname in var_node.field_names():
            spec = var_node.obj(vname)
            if spec is not None:
                spec.choice(
                    "type",
                    ["String", "Bool", "Array", "Boolean", "Integer"],
                    required=True,
                    case_insensitive=True,
                )
                variables[vname] = spec.raw("defaultValue")
    concurrency = props.integer("concurrency", minimum=1)
    schedule, storage_events, other_triggers = import_triggers(root)
    home: dict[str, Any] = {k: props.raw(k) for k in ("folder", "annotations") if props.has(k)}
    if other_triggers:
        home["triggers"] = other_triggers
    return Job(
        name=name,
        description=props.string("description"),
        tasks=tasks,
        parameters=parameters,
        variables=variables,
        # ADF: no limit unless `concurrency` is set, and runs past it wait in a queue
        max_concurrent_runs=concurrency,
        queue=concurrency is not None,
        schedule=schedule,
        triggers=list(storage_events),
        engine_rules=EngineRules.ADF,
        source_format="adf",
        home=home,
    )


def import_activities(nodes: list[Node], *, scope: str = "", gate: Dependency | None = None) -> list[Task]:
    """An ADF activity list (a pipeline's, a branch's, a ForEach / Until body) as run tasks, If/Switch
    expanded; see `adf_branches.expand_activities` for `scope` and `gate`."""
    return expand_activities(nodes, _activity, scope=scope, gate=gate)


def _activity(node: Node) -> Task | None:
    node.check_keys(_ACTIVITY_KEYS, what="an activity", severity="warning")
    name = node.string("name", required=True)
    kind = node.string("type", required=True)
    if name is None or kind is None:
        return None
    if len(name) > 55 or re.search(r"[.+?/<>*%&:\\]", name):
        node.error("name", "expected at most 55 characters and none of . + ? / < > * % & : \\", "task-key")
    policy = node.obj("policy")
    timeout, retries, interval, secure_in, secure_out = DEFAULT_TIMEOUT_SECONDS, 0, 30, False, False
    if policy is not None:
        text = policy.text("timeout")
        if text is not None:
            parsed = parse_timespan(text)
            if parsed is None:
                policy.error("timeout", f"expected a timespan d.hh:mm:ss, got {text!r}", "timespan")
            else:
                timeout = parsed
        retries = policy.integer("retry", default=0, minimum=0) or 0
        interval = policy.integer("retryIntervalInSeconds", default=30, minimum=30) or 30
        if interval > 86400:
            policy.error("retryIntervalInSeconds", "expected 30 to 86400 seconds", "range")
        secure_in, secure_out = policy.boolean("secureInput"), policy.boolean("secureOutput")
    body = node.obj("typeProperties")
    payload, compute = _payload(node, kind, body)
    return Task(
        key=name,
        description=node.string("description"),
        depends_on=_dependencies(node),
        compute=compute,
        payload=payload,
        retry=RetryPolicy(max_retries=retries, min_retry_interval_millis=interval * 1000),
        timeout_seconds=timeout,
        secure_input=secure_in,
        secure_output=secure_out,
        source_path=node.path,
    )


def _dependencies(node: Node) -> list[Dependency]:
    found = []
    for dep in node.objects("dependsOn"):
        key = dep.string("activity", required=True)
        conditions: list[DependencyCondition] = []
        items = dep.items("dependencyConditions", required=True)
        if (
            dep.has("dependencyConditions")
            and not items
            and isinstance(dep.raw("dependencyConditions"), list)
        ):
            dep.error(
                "dependencyConditions", "expected at least one of Succeeded, Failed, Skipped, Completed"
            )
        for item in items:
            value = item.value
            match = next(
                (
                    c
                    for c in DependencyCondition
                    if isinstance(value, str) and c.value.lower() == value.lower()
                ),
                None,
            )
            if match is None:
                item.error(
                    None, f"expected one of Succeeded, Failed, Skipped, Completed, got {value!r}", "enum"
                )
            else:
                conditions.append(match)
        if key is not None:
            found.append(Dependency(task_key=key, conditions=conditions or [DependencyCondition.SUCCEEDED]))
    return found


def _reference(body: Node, key: str) -> str | None:
    ref = body.obj(key)
    if ref is None:
        return None
    return ref.string("referenceName", required=True)


def _linked(node: Node) -> Compute | None:
    name = _reference(node, "linkedServiceName")
    return Compute(kind="pool", cluster_id=name) if name else None


def _payload(node: Node, kind: str, body: Node | None) -> tuple[Payload | None, Compute | None]:
    if kind in DATA_TYPES:
        return read_data_activity(node, kind, body), None
    if kind in adf_control.READERS and body is not None:
        return adf_control.READERS[kind](body), None
    if kind in CONTROL_TYPES or body is None:
        if body is None and kind not in CONTROL_TYPES:
            node.error("typeProperties", f"required: a {kind} activity has typeProperties", "required")
            return None, None
        return _control(node, kind, body), None
    reader = _READERS.get(kind)
    if reader is None:
        node.warning(
            "type", f"activity type {kind!r} is kept, but jobclusters cannot run it yet", "unsupported-kind"
        )
        return UnsupportedPayload(home_kind=kind, spec=dict(body.value)), None
    # ADF takes dynamic content (`{"value": "@...", "type": "Expression"}`) wherever it takes a string
    return reader(node, Node(unwrap_expression(body.value), body.path, body.problems))


def _control(node: Node, kind: str, body: Node | None) -> Payload | None:
    if kind in ("IfCondition", "Switch"):
        return adf_control.read_branch(node, kind, body)
    if kind in ("ForEach", "Until") and body is not None and body.items("activities"):
        return _for_each(node, body) if kind == "ForEach" else _until(body)
    if kind == "ForEach" and body is not None:
        count = body.integer("batchCount", minimum=1)
        if count is not None and count > 50:
            body.error("batchCount", f"expected at most 50, got {count}", "range")
    if body is not None:
        adf_control.check_kept(kind, body)
    node.warning(
        "type", f"{kind} activities are kept, but jobclusters cannot run them yet", "unsupported-kind"
    )
    return UnsupportedPayload(home_kind=kind, spec=dict(body.value) if body is not None else {})


def _inner_activities(body: Node, field: str) -> list[Task] | None:
    """Inner activities, read like top-level ones (so whatever the importer does to those applies)."""
    nodes = body.objects(field, required=True)
    tasks = import_activities(nodes)
    keys = {t.key for t in tasks}
    for inner in nodes:
        for dep in inner.objects("dependsOn"):
            name = dep.raw("activity")
            if isinstance(name, str) and name not in keys:
                dep.error(
                    "activity", f"{name!r} is not an activity of the same {field} list", "unknown-dependency"
                )
    return tasks or None


#: activities only `run_job`'s walk runs (decided inline, a timer, a loop): a ForEach body of one of them
#: is a block too, not a `run_task` per item
_WALKED_KINDS = frozenset({"set_variable", "filter", "fail", "wait", "until", "condition", "unsupported"})


def _for_each(node: Node, body: Node) -> Payload | None:
    """`items` renders to the array; `isSequential` runs one at a time, else `batchCount` (default 20)."""
    count = body.integer("batchCount", minimum=1)
    if count is not None and count > 50:
        body.error("batchCount", f"expected at most 50, got {count}", "range")
        count = 50
    sequential = body.boolean("isSequential")
    items = unwrap_expression(body.raw("items"))
    if not isinstance(items, str | list):
        body.error("items", "required: an expression giving the array to iterate over", "required")
    tasks = _inner_activities(body, "activities")
    if not isinstance(items, str | list) or tasks is None:
        return None
    nested = tasks[0]
    walked = nested.payload is None or nested.payload.kind in _WALKED_KINDS
    if len(tasks) > 1 or walked:
        nested = Task(
            key=node.string("name") or "ForEach", payload=BlockPayload(tasks=tasks), source_path=body.path
        )
    return ForEachPayload(inputs=items, concurrency=1 if sequential else count or 20, task=nested)


def _until(body: Node) -> Payload | None:
    """`expression` is checked after each pass of the inner activities; `timeout` caps all the passes."""
    expression = unwrap_expression(body.raw("expression"))
    if not isinstance(expression, str):
        body.error("expression", "required: an expression that ends the loop when true", "required")
    timeout = unwrap_expression(body.raw("timeout"))
    seconds = parse_timespan(timeout) if isinstance(timeout, str) else None
    if timeout in (None, ""):
        body.error("timeout", "required: an Until needs a timeout cap (d.hh:mm:ss)", "required")
    elif not seconds:
        body.error("timeout", f"expected a timespan d.hh:mm:ss above zero, got {timeout!r}", "timespan")
    tasks = _inner_activities(body, "activities")
    if not isinstance(expression, str) or not seconds or tasks is None:
        return None
    return UntilPayload(expression=expression, timeout_seconds=seconds, tasks=tasks)


def _synapse_notebook(node: Node, body: Node) -> tuple[Payload | None, Compute | None]:
    notebook = _reference(body, "notebook")
    if notebook is None and not body.has("notebook"):
        body.error("notebook", "required: expected a NotebookReference", "required")
    pool = _reference(body, "sparkPool")
    compute = Compute(kind="pool", cluster_id=pool) if pool else None
    if compute is None:
        body.warning(None, "no sparkPool: the notebook's attached Spark pool is used", "compute")
    payload = (
        NotebookPayload(
            path=notebook or "",
            base_parameters=unwrap_expression(body.map("parameters")),
            spark_conf=body.map("conf"),
        )
        if notebook
        else None
    )
    return payload, compute


def _spark_job(node: Node, body: Node) -> tuple[Payload | None, Compute | None]:
    job_ref = _reference(body, "sparkJob")
    file = body.string("file") or (f"sparkjob:{job_ref}" if job_ref else None)
    if file is None:
        body.error("sparkJob", "required: expected a SparkJobDefinitionReference", "required")
        return None, None
    pool = _reference(body, "targetBigDataPool")
    return (
        LivyBatchPayload(
            file=file,
            class_name=body.string("className"),
            args=body.strings("args"),
            conf=body.string_map("conf"),
            py_files=body.strings("pythonCodeReference"),
            jars=body.strings("files"),
            driver_memory=body.string("driverSize"),
            num_executors=body.integer("numExecutors", minimum=1),
        ),
        Compute(kind="pool", cluster_id=pool) if pool else None,
    )


def _databricks(node: Node, body: Node, kind: str) -> tuple[Payload | None, Compute | None]:
    compute = _linked(node)
    if compute is None:
        node.error("linkedServiceName", "required: the Databricks linked service to run on", "compute")
    compute = Compute(kind="existing_cluster", cluster_id=compute.cluster_id) if compute else None
    payload: Payload | None = None
    if kind == "DatabricksNotebook":
        path = body.string("notebookPath", required=True)
        if path:
            payload = NotebookPayload(
                path=path, base_parameters=unwrap_expression(body.map("baseParameters"))
            )
    elif kind == "DatabricksSparkPython":
        file = body.string("pythonFile", required=True)
        if file:
            payload = SparkPythonPayload(python_file=file, parameters=body.strings("parameters"))
    else:
        main = body.string("mainClassName", required=True)
        if main:
            payload = SparkJarPayload(main_class_name=main, parameters=body.strings("parameters"))
    return payload, compute


def _custom(node: Node, body: Node) -> tuple[Payload | None, Compute | None]:
    command = body.string("command", required=True)
    compute = _linked(node)
    if compute is None:
        node.error("linkedServiceName", "required: the Azure Batch linked service to run on", "compute")
    if command is None:
        return None, compute
    return CommandPayload(command_line=command, home=dict(body.value)), compute


def _hdinsight(node: Node, body: Node, kind: str) -> tuple[Payload | None, Compute | None]:
    compute = _linked(node)
    if compute is None:
        node.error("linkedServiceName", "required: the HDInsight linked service to run on", "compute")
    payload: Payload | None = None
    if kind == "HDInsightSpark":
        entry = body.string("entryFilePath", required=True)
        root = body.string("rootPath", default="") or ""
        if entry:
            payload = LivyBatchPayload(
                file=f"{root.rstrip('/')}/{entry}" if root else entry,
                class_name=body.string("className"),
                args=body.strings("arguments"),
                conf=body.string_map("sparkConfig"),
            )
    elif kind == "HDInsightHive":
        script = body.string("scriptPath")
        query = body.string("script")
        if script is None and query is None:
            body.error("scriptPath", "required: scriptPath or script", "required")
        else:
            payload = HivePayload(file=script, query=query, defines=body.string_map("defines"))
    else:
        jar, cls = body.string("jarFilePath", required=True), body.string("className", required=True)
        if jar and cls:
            payload = MapReducePayload(jar=jar, class_name=cls, args=body.strings("arguments"))
    return payload, compute


def _fail(node: Node, body: Node) -> tuple[Payload | None, Compute | None]:
    message = body.text("message", required=True)
    code = body.text("errorCode", required=True)
    if message is None:
        return None, None
    return FailPayload(message=message, error_code=code or "Failed"), None


_READERS = {
    "SynapseNotebook": _synapse_notebook,
    "SparkJob": _spark_job,
    "DatabricksNotebook": lambda n, b: _databricks(n, b, "DatabricksNotebook"),
    "DatabricksSparkPython": lambda n, b: _databricks(n, b, "DatabricksSparkPython"),
    "DatabricksSparkJar": lambda n, b: _databricks(n, b, "DatabricksSparkJar"),
    "Custom": _custom,
    "HDInsightSpark": lambda n, b: _hdinsight(n, b, "HDInsightSpark"),
    "HDInsightHive": lambda n, b: _hdinsight(n, b, "HDInsightHive"),
    "HDInsightMapReduce": lambda n, b: _hdinsight(n, b, "HDInsightMapReduce"),
    "Fail": _fail,
}
