"""Databricks Jobs API 2.1 / 2.2 job settings -> `Job`.

Accepts the multi-task form (`tasks[]`), the legacy single-task form (`new_cluster` + one payload at the
top level, or wrapped in the seed's `task` object) and a `GET /jobs/get` answer (`{"job_id", "settings"}`).
A legacy job's single task is keyed by the job's name.
"""

from __future__ import annotations

import re
from typing import Any

from jobclusters.spec.for_each import MAX_CONCURRENCY, ForEachError, parse_inputs
from jobclusters.spec.model import (
    Autoscale,
    ClusterSpec,
    Compute,
    ConditionPayload,
    Dependency,
    FileArrivalTrigger,
    ForEachPayload,
    HealthRule,
    Job,
    JobCluster,
    JobParameter,
    Library,
    NotebookPayload,
    Notifications,
    NotificationTarget,
    Payload,
    PythonWheelPayload,
    RetryPolicy,
    RunIf,
    RunJobPayload,
    Schedule,
    SparkJarPayload,
    SparkPythonPayload,
    SparkSubmitPayload,
    SpotPolicy,
    SqlPayload,
    StorageEventTrigger,
    Task,
    UnsupportedPayload,
)
from jobclusters.spec.reader import Node

RUNNABLE_PAYLOADS = (
    "notebook_task",
    "spark_python_task",
    "python_wheel_task",
    "spark_jar_task",
    "spark_submit_task",
    "sql_task",
    "run_job_task",
    "condition_task",
    "for_each_task",
)
PARSED_ONLY_PAYLOADS = (
    "pipeline_task",
    "dbt_task",
    "dashboard_task",
    "clean_rooms_notebook_task",
    "power_bi_task",
    "gen_ai_compute_task",
)
PAYLOAD_KEYS = RUNNABLE_PAYLOADS + PARSED_ONLY_PAYLOADS
COMPUTE_KEYS = ("new_cluster", "job_cluster_key", "existing_cluster_id", "environment_key")
_RETRY_KEYS = ("timeout_seconds", "max_retries", "min_retry_interval_millis", "retry_on_timeout")
_NOTIFY_KEYS = ("email_notifications", "webhook_notifications", "notification_settings", "health")
TASK_KEYS = frozenset(
    {
        "task_key",
        "description",
        "depends_on",
        "run_if",
        "libraries",
        "disabled",
        "compute_key",
        "disable_auto_optimization",
        *COMPUTE_KEYS,
        *PAYLOAD_KEYS,
        *_RETRY_KEYS,
        *_NOTIFY_KEYS,
    }
)
JOB_KEYS = frozenset(
    {
        "name",
        "description",
        "tasks",
        "job_clusters",
        "timeout_seconds",
        "schedule",
        "trigger",
        "continuous",
        "max_concurrent_runs",
        "git_source",
        "tags",
        "format",
        "queue",
        "parameters",
        "run_as",
        "edit_mode",
        "deployment",
        "environments",
        "budget_policy_id",
        "usage_policy_id",
        "performance_target",
        "access_control_list",
        "run_name",
        "idempotency_token",
        *_NOTIFY_KEYS,
    }
)
LEGACY_KEYS = frozenset(
    {
        "new_cluster",
        "existing_cluster_id",
        "libraries",
        "max_retries",
        "min_retry_interval_millis",
        "retry_on_timeout",
        "task",
        *PAYLOAD_KEYS,
    }
)
CLUSTER_KEYS = frozenset(
    {
        "cluster_name",
        "spark_version",
        "spark_conf",
        "node_type_id",
        "driver_node_type_id",
        "num_workers",
        "autoscale",
        "azure_attributes",
        "aws_attributes",
        "gcp_attributes",
        "ssh_public_keys",
        "custom_tags",
        "cluster_log_conf",
        "init_scripts",
        "spark_env_vars",
        "autotermination_minutes",
        "enable_elastic_disk",
        "instance_pool_id",
        "driver_instance_pool_id",
        "policy_id",
        "apply_policy_default_values",
        "enable_local_disk_encryption",
        "runtime_engine",
        "data_security_mode",
        "single_user_name",
        "docker_image",
        "workload_type",
        "disk_spec",
        "is_single_node",
        "kind",
        "use_ml_runtime",
        "total_initial_remote_disk_size",
        "remote_disk_throughput",
        "cluster_source",
    }
)
TASK_KEY_MAX_CHARS = 100
TASK_KEY_PATTERN = re.compile(rf"^[\w\-.]{{1,{TASK_KEY_MAX_CHARS}}}$")
CONDITION_OPS = (
    "EQUAL_TO",
    "NOT_EQUAL",
    "GREATER_THAN",
    "GREATER_THAN_OR_EQUAL",
    "LESS_THAN",
    "LESS_THAN_OR_EQUAL",
)


def looks_like(doc: dict[str, Any]) -> bool:
    if isinstance(doc.get("settings"), dict) and "job_id" in doc:
        return True
    tasks = doc.get("tasks")
    if isinstance(tasks, list) and any(isinstance(t, dict) and "task_key" in t for t in tasks):
        return True
    return any(key in doc for key in (*COMPUTE_KEYS, *PAYLOAD_KEYS, "task", "job_clusters"))


def import_job(root: Node) -> Job | None:
    if isinstance(root.raw("settings"), dict) and root.has("job_id"):
        settings = root.obj("settings")
        assert settings is not None
        root = settings
    legacy = not root.has("tasks")
    root.check_keys(JOB_KEYS | (LEGACY_KEYS if legacy else frozenset()), what="a Databricks job")
    name = root.string("name") or root.string("run_name") or "Untitled"
    has_environments = bool(root.items("environments"))
    job_clusters = [_job_cluster(node) for node in root.objects("job_clusters")]
    if legacy:
        tasks = [_legacy_task(root, name, has_environments)]
    else:
        tasks = [_task(node, has_environments, nested=False) for node in root.objects("tasks", required=True)]
    queue = root.obj("queue")
    return Job(
        name=name,
        description=root.string("description"),
        tasks=[t for t in tasks if t is not None],
        job_clusters=[c for c in job_clusters if c is not None],
        parameters=_parameters(root),
        schedule=_schedule(root),
        triggers=_triggers(root),
        tags=root.string_map("tags"),
        max_concurrent_runs=root.integer("max_concurrent_runs", default=1, minimum=1) or 1,
        queue=queue.boolean("enabled") if queue is not None else False,
        timeout_seconds=None if legacy else root.integer("timeout_seconds", minimum=0),
        notifications=notifications(root),
        health=health(root),
        source_format="databricks",
        home={k: root.raw(k) for k in ("git_source", "run_as", "environments", "continuous") if root.has(k)},
    )


# ------------------------------------------------------------------ tasks


def _legacy_task(root: Node, name: str, has_environments: bool) -> Task | None:
    wrapper = root.obj("task")
    payload_node = wrapper if wrapper is not None else root
    if wrapper is not None:
        wrapper.check_keys(PAYLOAD_KEYS, what="the task object")
    payload = _payload(payload_node, key=name)
    if payload is None and not any(payload_node.has(k) for k in PAYLOAD_KEYS):
        root.warning(
            None,
            "no task payload (one of " + ", ".join(RUNNABLE_PAYLOADS) + "): the job has "
            "nothing to run; its single task will succeed without doing work",
            "no-payload",
        )
    return Task(
        key=name
        if TASK_KEY_PATTERN.match(name)
        else re.sub(r"[^\w\-.]", "_", name)[:TASK_KEY_MAX_CHARS] or "task",
        compute=_compute(root, payload, has_environments),
        payload=payload,
        retry=retry(root),
        timeout_seconds=root.integer("timeout_seconds", minimum=0),
        libraries=libraries(root),
        source_path=root.path,
    )


def _task(node: Node, has_environments: bool, *, nested: bool) -> Task | None:
    node.check_keys(TASK_KEYS, what="a Databricks task")
    key = node.string("task_key", required=True)
    if key is None:
        return None
    if not TASK_KEY_PATTERN.match(key):
        node.error("task_key", "expected 1-100 letters, digits, '_', '-' or '.'", "task-key")
    payload = _payload(node, key=key, nested=nested)
    if payload is None and not any(node.has(k) for k in PAYLOAD_KEYS):
        node.error(None, "a task needs exactly one payload: one of " + ", ".join(PAYLOAD_KEYS), "no-payload")
    run_if = node.choice("run_if", [r.value for r in RunIf], default=RunIf.ALL_SUCCESS.value)
    return Task(
        key=key,
        description=node.string("description"),
        depends_on=_dependencies(node),
        run_if=RunIf(run_if or RunIf.ALL_SUCCESS.value),
        compute=_compute(node, payload, has_environments),
        payload=payload,
        retry=retry(node),
        timeout_seconds=node.integer("timeout_seconds", minimum=0),
        notifications=notifications(node),
        health=health(node),
        libraries=libraries(node),
        source_path=node.path,
    )


def _dependencies(node: Node) -> list[Dependency]:
    found = []
    for dep in node.objects("depends_on"):
        dep.check_keys({"task_key", "outcome"}, what="a dependency")
        key = dep.string("task_key", required=True)
        outcome = dep.choice("outcome", ["true", "false"])
        if key is not None:
            found.append(Dependency(task_key=key, outcome=outcome))
    return found


def _compute(node: Node, payload: Payload | None, has_environments: bool) -> Compute | None:
    present = [k for k in COMPUTE_KEYS if node.has(k)]
    if len(present) > 1:
        node.error(present[1], f"a task has exactly one compute, found {' and '.join(present)}", "compute")
    if not present:
        needs = payload is not None and payload.kind not in {
            "condition",
            "run_job",
            "for_each",
            "sql",
            "unsupported",
        }
        if needs:
            if has_environments:
                return Compute(kind="serverless")
            node.error(
                None,
                "no compute: set one of new_cluster, job_cluster_key, existing_cluster_id "
                "(or environment_key for serverless)",
                "compute",
            )
        return None
    first = present[0]
    if first == "new_cluster":
        cluster = node.obj("new_cluster")
        spec = cluster_spec(cluster) if cluster is not None else None
        return Compute(kind="new_cluster", cluster=spec) if spec is not None else None
    if first == "job_cluster_key":
        key = node.string("job_cluster_key", required=True)
        return Compute(kind="job_cluster", job_cluster_key=key) if key else None
    if first == "existing_cluster_id":
        cluster_id = node.string("existing_cluster_id", required=True)
        return Compute(kind="existing_cluster", cluster_id=cluster_id) if cluster_id else None
    node.string("environment_key", required=True)
    return Compute(kind="serverless")


def _payload(node: Node, *, key: str, nested: bool = False) -> Payload | None:
    present = [k for k in PAYLOAD_KEYS if node.has(k)]
    if len(present) > 1:
        node.error(present[1], f"a task has exactly one payload, found {' and '.join(present)}", "payload")
    if not present:
        return None
    kind = present[0]
    body = node.obj(kind)
    if body is None:
        return None
    if kind in PARSED_ONLY_PAYLOADS:
        node.warning(
            kind, f"{kind} is parsed and kept, but jobclusters cannot run it yet", "unsupported-kind"
        )
        return UnsupportedPayload(home_kind=kind, spec=dict(body.value))
    if kind == "for_each_task" and nested:
        node.error(kind, "the task inside a for_each_task cannot itself be a for_each_task", "for-each")
        return None
    return _PAYLOAD_READERS[kind](body)


def _notebook(body: Node) -> Payload | None:
    path = body.string("notebook_path", required=True)
    if path is None:
        return None
    return NotebookPayload(
        path=path, base_parameters=body.map("base_parameters"), source=body.string("source")
    )


def _spark_python(body: Node) -> Payload | None:
    python_file = body.string("python_file", required=True)
    if python_file is None:
        return None
    return SparkPythonPayload(python_file=python_file, parameters=body.strings("parameters"))


def _python_wheel(body: Node) -> Payload | None:
    package, entry = body.string("package_name", required=True), body.string("entry_point", required=True)
    if package is None or entry is None:
        return None
    return PythonWheelPayload(
        package_name=package,
        entry_point=entry,
        parameters=body.strings("parameters"),
        named_parameters=body.string_map("named_parameters"),
    )


def _spark_jar(body: Node) -> Payload | None:
    main = body.string("main_class_name", required=True)
    if main is None:
        return None
    return SparkJarPayload(
        main_class_name=main, jar_uri=body.string("jar_uri"), parameters=body.strings("parameters")
    )


def _spark_submit(body: Node) -> Payload | None:
    return SparkSubmitPayload(parameters=body.strings("parameters"))


def _sql(body: Node) -> Payload | None:
    warehouse = body.string("warehouse_id", required=True)
    if warehouse is None:
        return None
    kinds = [k for k in ("query", "file", "dashboard", "alert") if body.has(k)]
    if len(kinds) != 1:
        body.error(None, "a sql_task has exactly one of query, file, dashboard, alert", "payload")
    query = {k: body.raw(k) for k in kinds}
    return SqlPayload(warehouse_id=warehouse, query=query, parameters=body.string_map("parameters"))


def _run_job(body: Node) -> Payload | None:
    job_id = body.text("job_id", required=True)
    if job_id is None:
        return None
    return RunJobPayload(job_id=job_id, job_parameters=body.map("job_parameters"))


def _condition(body: Node) -> Payload | None:
    op = body.choice("op", CONDITION_OPS, required=True)
    left, right = body.text("left", required=True), body.text("right", required=True)
    if op is None or left is None or right is None:
        return None
    return ConditionPayload(op=op, left=left, right=right)  # type: ignore[arg-type]


def _for_each(body: Node) -> Payload | None:
    raw_inputs = body.raw("inputs")
    if not isinstance(raw_inputs, str | list):
        body.error("inputs", "required: expected a JSON array, written as a string or a list", "required")
        return None
    if isinstance(raw_inputs, list) or "{{" not in raw_inputs:
        try:
            parse_inputs(raw_inputs, body.at("inputs"))
        except ForEachError as exc:
            body.error("inputs", str(exc).removeprefix(f"{exc.path}: "), "for-each")
            return None
    concurrency = body.integer("concurrency", default=1, minimum=1) or 1
    if concurrency > MAX_CONCURRENCY:
        body.error("concurrency", f"expected at most {MAX_CONCURRENCY}, got {concurrency}", "range")
        return None
    inner_node = body.obj("task", required=True)
    if inner_node is None:
        return None
    inner = _task(inner_node, has_environments=True, nested=True)
    if inner is None:
        return None
    return ForEachPayload(inputs=raw_inputs, concurrency=concurrency, task=inner)


_PAYLOAD_READERS = {
    "notebook_task": _notebook,
    "spark_python_task": _spark_python,
    "python_wheel_task": _python_wheel,
    "spark_jar_task": _spark_jar,
    "spark_submit_task": _spark_submit,
    "sql_task": _sql,
    "run_job_task": _run_job,
    "condition_task": _condition,
    "for_each_task": _for_each,
}


# ------------------------------------------------------------------ shared pieces


def retry(node: Node) -> RetryPolicy:
    return RetryPolicy(
        max_retries=node.integer("max_retries", default=0, minimum=-1) or 0,
        min_retry_interval_millis=node.integer("min_retry_interval_millis", default=0, minimum=0) or 0,
        retry_on_timeout=node.boolean("retry_on_timeout"),
    )


def notifications(node: Node) -> Notifications:
    events = ("on_start", "on_success", "on_failure", "on_duration_warning_threshold_exceeded")
    found: dict[str, list[NotificationTarget]] = {event: [] for event in events}
    email = node.obj("email_notifications")
    if email is not None:
        email.check_keys(
            {*events, "on_streaming_backlog_exceeded", "no_alert_for_skipped_runs"},
            what="email_notifications",
            severity="warning",
        )
        for event in events:
            found[event] += [NotificationTarget(kind="email", address=a) for a in email.strings(event)]
    hooks = node.obj("webhook_notifications")
    if hooks is not None:
        for event in events:
            for hook in hooks.objects(event):
                address = hook.string("id") or hook.string("url")
                if address is None:
                    hook.error(
                        "id", "required: expected the webhook's notification destination id", "required"
                    )
                else:
                    found[event].append(NotificationTarget(kind="webhook", address=address))
    return Notifications(**found)


def health(node: Node) -> list[HealthRule]:
    block = node.obj("health")
    if block is None:
        return []
    rules = []
    for rule in block.objects("rules"):
        metric = rule.choice(
            "metric",
            [
                "RUN_DURATION_SECONDS",
                "STREAMING_BACKLOG_BYTES",
                "STREAMING_BACKLOG_RECORDS",
                "STREAMING_BACKLOG_SECONDS",
                "STREAMING_BACKLOG_FILES",
            ],
            required=True,
        )
        rule.choice("op", ["GREATER_THAN"], required=True)
        value = rule.integer("value", required=True, minimum=0)
        if metric is not None and value is not None:
            rules.append(HealthRule(metric=metric, value=value))
    return rules


def libraries(node: Node) -> list[Library]:
    found = []
    for lib in node.objects("libraries"):
        kinds = [k for k in ("pypi", "maven", "jar", "whl", "egg", "cran", "requirements") if lib.has(k)]
        if len(kinds) != 1:
            lib.error(
                None, "a library is exactly one of pypi, maven, jar, whl, egg, cran, requirements", "library"
            )
            continue
        kind = kinds[0]
        if kind in {"pypi", "maven", "cran"}:
            spec = lib.obj(kind, required=True)
            if spec is None:
                continue
            value = spec.string("coordinates" if kind == "maven" else "package", required=True)
            if value is not None:
                found.append(
                    Library.model_validate(
                        {
                            "kind": kind,
                            "value": value,
                            "repo": spec.string("repo"),
                            "exclusions": spec.strings("exclusions"),
                        }
                    )
                )
        else:
            value = lib.string(kind, required=True)
            if value is not None:
                found.append(Library.model_validate({"kind": kind, "value": value}))
    return found


def cluster_spec(node: Node) -> ClusterSpec | None:
    node.check_keys(CLUSTER_KEYS, what="a Databricks cluster spec", severity="warning")
    node.string("spark_version", required=True)
    if not (node.has("node_type_id") or node.has("instance_pool_id") or node.has("policy_id")):
        node.error(None, "required: node_type_id (or instance_pool_id)", "required")
    autoscale = None
    scale = node.obj("autoscale")
    if scale is not None:
        low = scale.integer("min_workers", required=True, minimum=0)
        high = scale.integer("max_workers", required=True, minimum=1)
        if low is not None and high is not None:
            if low > high:
                scale.error(
                    "min_workers", f"expected min_workers <= max_workers ({high}), got {low}", "range"
                )
            else:
                autoscale = Autoscale(min_workers=low, max_workers=high)
    num_workers = node.integer("num_workers", minimum=0)
    if num_workers is None and autoscale is None and not node.has("policy_id"):
        node.error(None, "required: num_workers or autoscale", "required")
    return ClusterSpec(
        platform="databricks",
        name=node.string("cluster_name"),
        runtime=node.string("spark_version"),
        node_type=node.string("node_type_id"),
        driver_node_type=node.string("driver_node_type_id"),
        num_workers=num_workers,
        autoscale=autoscale,
        spot=_spot(node),
        spark_conf=node.string_map("spark_conf"),
        env=node.string_map("spark_env_vars"),
        tags=node.string_map("custom_tags"),
        init_scripts=_init_scripts(node),
        security_mode=node.string("data_security_mode"),
        auto_termination_minutes=node.integer("autotermination_minutes", minimum=0),
        instance_pool_id=node.string("instance_pool_id"),
        home=dict(node.value),
        source_path=node.path,
    )


def _spot(node: Node) -> SpotPolicy | None:
    azure = node.obj("azure_attributes")
    if azure is None:
        return None
    availability = azure.choice("availability", ["SPOT_AZURE", "ON_DEMAND_AZURE", "SPOT_WITH_FALLBACK_AZURE"])
    first = azure.integer("first_on_demand", default=0, minimum=0) or 0
    price = azure.number("spot_bid_max_price")
    if availability == "SPOT_WITH_FALLBACK_AZURE":
        return SpotPolicy(on_demand_nodes=first, fallback_to_on_demand=True, max_price=price)
    if availability == "SPOT_AZURE":
        return SpotPolicy(on_demand_nodes=first, fallback_to_on_demand=False, max_price=price)
    return None


def _init_scripts(node: Node) -> list[str]:
    found = []
    for script in node.objects("init_scripts"):
        for kind in script.field_names():
            target = script.obj(kind)
            if target is not None:
                destination = target.string("destination", required=True)
                if destination:
                    found.append(f"{kind}:{destination}")
    return found


def _job_cluster(node: Node) -> JobCluster | None:
    key = node.string("job_cluster_key", required=True)
    cluster = node.obj("new_cluster", required=True)
    spec = cluster_spec(cluster) if cluster is not None else None
    if key is None or spec is None:
        return None
    return JobCluster(key=key, cluster=spec)


def _parameters(root: Node) -> list[JobParameter]:
    found = []
    for param in root.objects("parameters"):
        name = param.string("name", required=True)
        if not param.has("default"):
            param.error("default", "required: every job parameter has a default", "required")
        if name is not None:
            found.append(JobParameter(name=name, default=param.raw("default")))
    return found


def _schedule(root: Node) -> Schedule | None:
    node = root.obj("schedule")
    if node is None:
        return None
    cron = node.string("quartz_cron_expression", required=True)
    timezone = node.string("timezone_id", required=True, default="UTC") or "UTC"
    pause = node.choice("pause_status", ["PAUSED", "UNPAUSED"], default="UNPAUSED")
    if cron is None:
        return None
    return Schedule(quartz_cron_expression=cron, timezone_id=timezone, pause_status=pause)  # type: ignore[arg-type]


def _triggers(root: Node) -> list[FileArrivalTrigger | StorageEventTrigger]:
    node = root.obj("trigger")
    if node is None:
        return []
    pause = node.choice("pause_status", ["PAUSED", "UNPAUSED"], default="UNPAUSED")
    found: list[FileArrivalTrigger | StorageEventTrigger] = []
    arrival = node.obj("file_arrival")
    if arrival is not None:
        url = arrival.string("url", required=True)
        if url is not None:
            found.append(
                FileArrivalTrigger(
                    url=url,
                    min_time_between_triggers_seconds=arrival.integer(
                        "min_time_between_triggers_seconds", default=0, minimum=0
                    )
                    or 0,
                    wait_after_last_change_seconds=arrival.integer(
                        "wait_after_last_change_seconds", default=0, minimum=0
                    )
                    or 0,
                    pause_status=pause,  # type: ignore[arg-type]
                )
            )
    for other in ("periodic", "table", "table_update"):
        if node.has(other):
            node.warning(other, f"trigger.{other} is kept but not run by jobclusters yet", "unsupported-kind")
    return found
