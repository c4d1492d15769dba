"""Checks on an imported `Job` that no single field shows: duplicate keys, unknown dependencies, cycles,
computes, job cluster references, schedules, dynamic value references, the cost-tag policy and (given the
account's containers) trigger rules on containers that do not exist.

Findings point into the *source* document: each task carries `source_path`, and `PathStyle` says how its
home format spells keys and dependencies (`$.tasks[1].depends_on[0].task_key` for Databricks,
`$.properties.activities[1].dependsOn[0].activity` for ADF).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from typing import Any

from jobclusters.quartz import cron_problem, timezone_problem
from jobclusters.spec.blob_locations import rule_container
from jobclusters.spec.model import ClusterSpec, ForEachPayload, Job, Task
from jobclusters.spec.problems import Problems
from jobclusters.spec.templating import find_references


@dataclass(frozen=True)
class PathStyle:
    key: str
    dependency: str  # format string with {i}
    job_cluster: str
    schedule: str = "$.schedule"


PATH_STYLES = {
    "native": PathStyle("key", ".depends_on[{i}].task_key", ".compute.job_cluster_key"),
    "databricks": PathStyle("task_key", ".depends_on[{i}].task_key", ".job_cluster_key"),
    "adf": PathStyle("name", ".dependsOn[{i}].activity", ".linkedServiceName"),
    "batch-job": PathStyle("id", ".dependsOn.taskIds[{i}]", ".poolInfo"),
}
DEFAULT_STYLE = PATH_STYLES["native"]


def _task_path(task: Task, index: int) -> str:
    return task.source_path or f"$.tasks[{index}]"


def validate_job(job: Job, problems: Problems, *, settings_path: str = "$") -> None:
    style = PATH_STYLES.get(job.source_format, DEFAULT_STYLE)
    _duplicate_keys(job, style, problems)
    _dependencies(job, style, problems)
    _cycles(job, style, problems)
    _job_clusters(job, style, problems)
    _schedule(job, problems, settings_path)


def _duplicate_keys(job: Job, style: PathStyle, problems: Problems) -> None:
    first_seen: dict[str, str] = {}
    for i, task in enumerate(job.tasks):
        path = _task_path(task, i)
        if task.key in first_seen:
            problems.error(
                f"{path}.{style.key}",
                f"duplicate task key {task.key!r} (first defined at {first_seen[task.key]})",
                "duplicate-key",
            )
        else:
            first_seen[task.key] = path
    seen_clusters: set[str] = set()
    for i, cluster in enumerate(job.job_clusters):
        if cluster.key in seen_clusters:
            problems.error(
                f"$.job_clusters[{i}]", f"duplicate job cluster key {cluster.key!r}", "duplicate-key"
            )
        seen_clusters.add(cluster.key)


def _dependencies(job: Job, style: PathStyle, problems: Problems) -> None:
    keys = {task.key for task in job.tasks}
    condition_tasks = {
        t.key for t in job.tasks if t.payload is not None and t.payload.kind in ("condition", "branch")
    }
    for i, task in enumerate(job.tasks):
        seen: set[str] = set()
        for d, dep in enumerate(task.depends_on):
            path = _task_path(task, i) + style.dependency.format(i=d)
            if dep.task_key not in keys:
                problems.error(
                    path,
                    f"unknown dependency {dep.task_key!r}: expected one of the job's task keys",
                    "unknown-dependency",
                )
            elif dep.task_key == task.key:
                problems.error(path, f"task {task.key!r} depends on itself", "cycle")
            if dep.task_key in seen:
                problems.error(path, f"dependency {dep.task_key!r} is listed twice", "duplicate-key")
            seen.add(dep.task_key)
            if dep.outcome is not None and dep.task_key in keys and dep.task_key not in condition_tasks:
                problems.error(
                    path, f"'outcome' needs a condition_task, and {dep.task_key!r} is not one", "outcome"
                )


def _cycles(job: Job, style: PathStyle, problems: Problems) -> None:
    graph = {task.key: [d.task_key for d in task.depends_on if d.task_key != task.key] for task in job.tasks}
    index = {task.key: i for i, task in enumerate(job.tasks)}
    color: dict[str, int] = {}
    reported: set[frozenset[str]] = set()

    for start in graph:
        if color.get(start):
            continue
        stack: list[tuple[str, int]] = [(start, 0)]
        trail: list[str] = [start]
        color[start] = 1
        while stack:
            node, pos = stack[-1]
            children = graph.get(node, [])
            if pos < len(children):
                stack[-1] = (node, pos + 1)
                child = children[pos]
                if child not in graph:
                    continue
                if color.get(child) == 1:
                    cycle = trail[trail.index(child) :]
                    if frozenset(cycle) not in reported:
                        reported.add(frozenset(cycle))
                        _report_cycle(job, style, problems, cycle, index)
                elif not color.get(child):
                    color[child] = 1
                    stack.append((child, 0))
                    trail.append(child)
            else:
                color[node] = 2
                stack.pop()
                trail.pop()


def _report_cycle(
    job: Job, style: PathStyle, problems: Problems, cycle: list[str], index: dict[str, int]
) -> None:
    # `cycle` follows dependency edges: each task depends on the next. Show it as run order.
    order = list(reversed(cycle))
    first = min(order, key=lambda k: index[k])
    turn = order.index(first)
    order = order[turn:] + order[:turn]
    task = job.tasks[index[first]]
    upstream = order[-1]
    dep_index = next(i for i, d in enumerate(task.depends_on) if d.task_key == upstream)
    path = _task_path(task, index[first]) + style.dependency.format(i=dep_index)
    problems.error(path, "dependency cycle: " + " -> ".join([*order, first]), "cycle")


def _job_clusters(job: Job, style: PathStyle, problems: Problems) -> None:
    defined = {c.key for c in job.job_clusters}
    for i, task in enumerate(job.tasks):
        for inner_path, inner in _with_nested(task, _task_path(task, i)):
            compute = inner.compute
            if (
                compute is not None
                and compute.kind == "job_cluster"
                and compute.job_cluster_key not in defined
            ):
                problems.error(
                    inner_path + style.job_cluster,
                    f"undefined job cluster {compute.job_cluster_key!r}: expected one of "
                    f"{', '.join(sorted(defined)) or '(no job_clusters defined)'}",
                    "undefined-cluster",
                )


def _with_nested(task: Task, path: str) -> list[tuple[str, Task]]:
    found = [(path, task)]
    payload = task.payload
    while isinstance(payload, ForEachPayload):
        path = path + ".for_each_task.task"
        found.append((path, payload.task))
        payload = payload.task.payload
    return found


def _schedule(job: Job, problems: Problems, settings_path: str) -> None:
    if job.schedule is None:
        return
    base = f"{settings_path}.schedule" if settings_path != "$" else "$.schedule"
    reason = cron_problem(job.schedule.quartz_cron_expression)
    if reason is not None:
        problems.error(f"{base}.quartz_cron_expression", f"invalid Quartz cron expression: {reason}", "cron")
    zone = timezone_problem(job.schedule.timezone_id)
    if zone is not None:
        problems.error(f"{base}.timezone_id", zone, "timezone")


# ------------------------------------------------------------------ dynamic value references


def validate_references(job: Job, doc: Any, problems: Problems, *, adf_syntax: bool) -> None:
    """Every `{{...}}` (and, for pipelines and native jobs, `@...`) reference must name something real."""
    parameters = {p.name for p in job.parameters}
    task_keys = {t.key for t in job.tasks}
    inner_keys = {t.key for t in job.all_tasks()} - task_keys  # ADF ForEach / Until inner activities
    upstream = ancestors(job)
    # an activity inside an If/Switch branch (`check/ifTrue/copy`) is named `copy` in expressions
    inner = {t.key.rsplit("/", 1)[-1]: t.key for t in job.tasks if "/" in t.key}
    for ref in find_references(doc):
        if ref.syntax == "adf" and not adf_syntax:
            continue
        if ref.kind == "activity" and ref.name not in task_keys and ref.name in inner:
            ref = replace(ref, name=inner[ref.name])
        if ref.error is not None:
            problems.error(ref.path, f"{ref.text}: {ref.error}", "reference")
        elif ref.kind in {"job.parameters", "pipeline.parameters"} and ref.name not in parameters:
            known = ", ".join(sorted(parameters)) or "none defined"
            problems.error(
                ref.path, f"{ref.text}: unknown parameter {ref.name!r} (parameters: {known})", "reference"
            )
        elif ref.kind in {"tasks", "activity"} and ref.name not in task_keys | inner_keys:
            problems.error(ref.path, f"{ref.text}: no task or activity named {ref.name!r}", "reference")
        elif ref.kind in {"tasks", "activity"} and ref.name in task_keys:
            owner = _owner(job, ref.path)
            if owner is not None and ref.name not in upstream.get(owner, set()):
                problems.warning(
                    ref.path,
                    f"{ref.text}: {ref.name!r} is not upstream of {owner!r}, so its value may not exist yet; "
                    f"add it to the dependencies",
                    "reference-order",
                )
        elif ref.kind == "variables" and ref.name not in job.variables:
            known = ", ".join(sorted(job.variables)) or "none defined"
            problems.error(
                ref.path, f"{ref.text}: unknown variable {ref.name!r} (variables: {known})", "reference"
            )


def ancestors(job: Job) -> dict[str, set[str]]:
    """Every task's transitive dependencies (cycles tolerated)."""
    direct = {task.key: {d.task_key for d in task.depends_on} for task in job.tasks}
    found: dict[str, set[str]] = {}
    for key in direct:
        seen: set[str] = set()
        stack = list(direct[key])
        while stack:
            item = stack.pop()
            if item not in seen:
                seen.add(item)
                stack.extend(direct.get(item, ()))
        found[key] = seen
    return found


def _owner(job: Job, path: str) -> str | None:
    """The task whose definition contains `path`: the innermost (an If/Switch holds its branch activities)."""
    found: tuple[int, str] | None = None
    for task in job.tasks:
        source = task.source_path
        inside = source and (path == source or path.startswith((source + ".", source + "[")))
        if inside and (found is None or len(source or "") > found[0]):
            found = (len(source or ""), task.key)
    return found[1] if found is not None else None


# ------------------------------------------------------------------ cost tags


def created_clusters(job: Job) -> list[tuple[str, ClusterSpec]]:
    """Clusters and pools this definition creates (the ones that cost money), with their paths."""
    found: list[tuple[str, ClusterSpec]] = []
    for i, shared in enumerate(job.job_clusters):
        found.append((shared.cluster.source_path or f"$.job_clusters[{i}]", shared.cluster))
    for i, task in enumerate(job.all_tasks()):
        compute = task.compute
        if compute is not None and compute.kind == "new_cluster" and compute.cluster is not None:
            found.append((compute.cluster.source_path or f"{_task_path(task, i)}.compute", compute.cluster))
    return found


def check_cost_tags(job: Job, required: Sequence[str], problems: Problems) -> None:
    """Required tags must reach every cluster the job creates: job tags propagate, cluster tags add."""
    if not required:
        return
    clusters = created_clusters(job)
    targets: list[tuple[str, ClusterSpec | None]] = [*clusters] or [("$", None)]
    for path, cluster in targets:
        tags = {**job.tags, **(cluster.tags if cluster is not None else {})}
        present = {name.lower() for name, value in tags.items() if str(value).strip()}
        missing = [name for name in required if name.lower() not in present]
        if missing:
            where = "the cluster's tags or the job's tags" if cluster is not None else "the job's tags"
            problems.warning(
                path,
                f"missing cost tags {', '.join(missing)}; add them to {where}",
                "cost-tags",
            )


TRIGGER_PATHS = {"databricks": "$.trigger.file_arrival", "adf": "$.triggers"}


def check_trigger_containers(
    job: Job, existing: Collection[str], problems: Problems, *, format: str = "native"
) -> None:
    """A rule on a container the storage account does not have can never fire: warn (it may be created
    later, so it is not an error). `existing` is the account's container list, read by the caller."""
    for i, rule in enumerate(job.triggers):
        container = rule_container(rule)
        if container is not None and container not in existing:
            problems.warning(
                TRIGGER_PATHS.get(format, "$.triggers[{i}]").format(i=i),
                f"{rule.kind} rule watches container {container!r}, which does not exist in the storage "
                "account; it fires only once the container is created",
                "unknown-container",
            )
