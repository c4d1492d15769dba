"""`validate`, `show` and `simulate`: the job-definition commands of `python -m jobclusters`.

Output contract (scripts rely on it): `validate` prints one line per finding, `FILE: <json path>:
<message>` for errors and `FILE: <json path>: warning: <message>` for warnings, and exits 2 when any
file has an error. `simulate` prints JSON `{"tasks": {key: state}, "result": ...}`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from jobclusters.execution.routing import executor_for
from jobclusters.spec.dag import dependents, leaves, simulate
from jobclusters.spec.loader import load_definition
from jobclusters.spec.model import (
    BranchPayload,
    Compute,
    ComputeMode,
    FailPayload,
    Job,
    Task,
    TaskState,
    UnsupportedPayload,
)
from jobclusters.spec.modes import cluster_mode
from jobclusters.spec.problems import LoadResult, Problem

EXIT_OK = 0
EXIT_INVALID = 2
#: errors that leave no DAG to walk
DAG_BREAKING = frozenset({"cycle", "unknown-dependency", "duplicate-key"})
CANNOT_RUN = "cannot-run"
OUTCOME_ALIASES = {
    "SUCCESS": TaskState.SUCCESS,
    "SUCCEEDED": TaskState.SUCCESS,
    "FAILED": TaskState.FAILED,
    "TIMEDOUT": TaskState.TIMEDOUT,
    "TIMED_OUT": TaskState.TIMEDOUT,
    "CANCELED": TaskState.CANCELED,
    "CANCELLED": TaskState.CANCELED,
}


def _required_tags(args: argparse.Namespace) -> tuple[str, ...]:
    if args.required_tags is not None:
        return tuple(t.strip() for t in args.required_tags.split(",") if t.strip())
    from jobclusters.settings import get_settings

    return get_settings().required_cost_tags


def load(args: argparse.Namespace, file: str) -> LoadResult:
    try:
        result = load_definition(
            Path(file), format=args.format, strict=args.strict, required_tags=_required_tags(args)
        )
    except Exception as exc:  # a bug in an importer must not hide the other files' findings
        problem = Problem(path="$", message=f"internal error ({type(exc).__name__}); please report it")
        return LoadResult(errors=[problem], format=args.format or "unknown")
    return with_runnability(result)


def cannot_run(job: Job) -> list[tuple[str, Task]]:
    """The tasks (with their JSON paths) a run of this job would fail without trying. The decision is the
    router's (`executor_for`), so a task kind the app learns to run stops being reported here by itself."""
    return [
        (task.source_path or f"$.tasks[{i}]", task)
        for i, task in enumerate(job.tasks)
        if executor_for(task) == "unsupported"
    ]


def with_runnability(result: LoadResult) -> LoadResult:
    """`result` with an error at each task the app cannot run, in place of the importers' "kept, but
    cannot run it yet" warnings: a definition that cannot run is not valid to run here."""
    if result.job is None:
        return result
    unrunnable = cannot_run(result.job)
    errors = [
        Problem(
            path=path, message=f"task {task.key!r} ({_kind(task)}) cannot be run by this app", code=CANNOT_RUN
        )
        for path, task in unrunnable
    ]
    warnings = [
        w
        for w in result.warnings
        if not (w.code == "unsupported-kind" and any(_within(w.path, path) for path, _ in unrunnable))
    ]
    return result.model_copy(update={"errors": [*result.errors, *errors], "warnings": warnings})


def _within(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith((prefix + ".", prefix + "["))


def _kind(task: Task) -> str:
    if isinstance(task.payload, UnsupportedPayload):
        return task.payload.home_kind
    return task.payload.kind if task.payload is not None else "no payload"


def finding_lines(file: str, result: LoadResult) -> list[str]:
    lines = [f"{file}: {p.path}: {p.message}" for p in result.errors]
    lines += [f"{file}: {p.path}: warning: {p.message}" for p in result.warnings]
    return lines


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--strict", action="store_true", help="cost-tag and unknown-field warnings are errors"
    )
    parser.add_argument(
        "--format", help="skip detection: native, databricks, adf, batch-job, batch-pool, ..."
    )
    parser.add_argument(
        "--required-tags", help="comma-separated cost tags (default: JOBCLUSTERS_REQUIRED_TAGS setting)"
    )


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    validate = subparsers.add_parser("validate", help="validate job definitions (exit 2 if any is invalid)")
    validate.add_argument("files", nargs="+", metavar="FILE")
    _add_common(validate)
    validate.set_defaults(func=run_validate)

    show = subparsers.add_parser("show", help="the normalized job, its DAG and derived cluster modes")
    show.add_argument("file", metavar="FILE")
    show.add_argument("--json", action="store_true", help="machine-readable output")
    _add_common(show)
    show.set_defaults(func=run_show)

    sim = subparsers.add_parser("simulate", help="walk the DAG; tasks not named in --outcome succeed")
    sim.add_argument("file", metavar="FILE")
    sim.add_argument(
        "--outcome",
        action="append",
        default=[],
        metavar="KEY=STATE",
        help="SUCCESS, FAILED, TIMEDOUT or CANCELED; true/false for a condition task's branch",
    )
    _add_common(sim)
    sim.set_defaults(func=run_simulate)


# ------------------------------------------------------------------ validate


def run_validate(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    status = EXIT_OK
    for file in args.files:
        result = load(args, file)
        for line in finding_lines(file, result):
            print(line, file=out)
        if result.errors:
            status = EXIT_INVALID
        else:
            what = f"{len(result.job.tasks)} task(s)" if result.job is not None else "not a job"
            print(f"{file}: ok ({result.format}, {what})", file=out)
    return status


# ------------------------------------------------------------------ show


def describe(job: Job) -> dict[str, Any]:
    """The DAG and modes of a job, as `show --json` prints them."""
    sim = simulate(job)
    return {
        "waves": sim.order,
        "leaves": leaves(job),
        "dependents": dependents(job),
        "modes": {
            task.key: [m.value for m in task.compute.modes]
            for task in job.all_tasks()
            if task.compute is not None
        },
        "job_cluster_modes": {c.key: [m.value for m in _cluster_modes(job, c.key)] for c in job.job_clusters},
    }


#: formats whose document *is* a cluster or pool: it outlives any run, so runs see an existing cluster
STANDALONE_CLUSTER_FORMATS = frozenset({"batch-pool", "hdinsight", "synapse-pool"})


def _cluster_modes(job: Job, key: str) -> list[ComputeMode]:
    shared = job.job_cluster(key)
    if job.source_format in STANDALONE_CLUSTER_FORMATS and shared is not None:
        return cluster_mode(Compute(kind="pool", cluster=shared.cluster), job)
    return cluster_mode(Compute(kind="job_cluster", job_cluster_key=key), job)


def run_show(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    result = load(args, args.file)
    if args.json:
        payload: dict[str, Any] = {
            "format": result.format,
            "valid": not result.errors,
            "errors": [p.model_dump() for p in result.errors],
            "warnings": [p.model_dump() for p in result.warnings],
            "job": result.job.model_dump(mode="json") if result.job is not None else None,
            "dag": describe(result.job) if result.job is not None and not _dag_broken(result) else None,
        }
        print(json.dumps(payload, indent=2), file=out)
    else:
        for line in render_text(args.file, result):
            print(line, file=out)
    return EXIT_INVALID if result.errors else EXIT_OK


def _dag_broken(result: LoadResult) -> bool:
    return any(p.code in DAG_BREAKING for p in result.errors)


def _task_line(task: Task) -> str:
    kind: str = task.payload.kind if task.payload is not None else "no payload"
    if isinstance(task.payload, UnsupportedPayload):
        kind = f"{task.payload.home_kind} (cannot run yet)"
    parts = [f"  - {task.key} [{kind}]"]
    if task.depends_on:
        deps = []
        for dep in task.depends_on:
            label = dep.task_key
            if dep.outcome is not None:
                label += f" ({dep.outcome})"
            if dep.conditions is not None:
                label += f" ({'|'.join(c.value for c in dep.conditions)})"
            deps.append(label)
        parts.append(f"after {', '.join(deps)}")
        if all(d.conditions is None for d in task.depends_on):
            parts.append(f"run_if {task.run_if.value}")
    if task.compute is not None:
        target = task.compute.job_cluster_key or task.compute.cluster_id or task.compute.kind
        parts.append(f"on {target}: {', '.join(m.value for m in task.compute.modes)}")
    if task.retry.max_retries:
        retries = "unlimited" if task.retry.max_retries == -1 else str(task.retry.max_retries)
        parts.append(f"retries {retries}")
    if task.timeout_seconds:
        parts.append(f"timeout {task.timeout_seconds}s")
    return "; ".join(parts)


def render_text(file: str, result: LoadResult) -> list[str]:
    lines = [f"{file} ({result.format})"]
    job = result.job
    if job is not None:
        lines.append(f"job: {job.name} (rules: {job.engine_rules.value})")
        if job.schedule is not None:
            s = job.schedule
            lines.append(f"schedule: {s.quartz_cron_expression} {s.timezone_id} {s.pause_status}")
        for trigger in job.triggers:
            lines.append(f"trigger: {trigger.kind} {trigger.model_dump(exclude={'kind'}, exclude_none=True)}")
        if job.tags:
            lines.append("tags: " + ", ".join(f"{k}={v}" for k, v in job.tags.items()))
        for cluster in job.job_clusters:
            modes = ", ".join(m.value for m in _cluster_modes(job, cluster.key))
            spec = cluster.cluster
            size = (
                spec.num_workers
                if spec.autoscale is None
                else (f"{spec.autoscale.min_workers}-{spec.autoscale.max_workers or 'formula'}")
            )
            lines.append(f"cluster {cluster.key} [{spec.platform} {spec.node_type or ''} x{size}]: {modes}")
        lines.append(f"tasks ({len(job.tasks)}):")
        lines.extend(_task_line(task) for task in job.tasks)
        if job.tasks and not _dag_broken(result):
            waves = simulate(job).order
            lines.append("run order: " + " | ".join(", ".join(w) for w in waves))
    lines.extend(f"error: {p.path}: {p.message}" for p in result.errors)
    lines.extend(f"warning: {p.path}: {p.message}" for p in result.warnings)
    return lines


# ------------------------------------------------------------------ simulate


def parse_outcomes(values: Sequence[str], job: Job) -> tuple[dict[str, TaskState], dict[str, str]]:
    """`KEY=STATE` pairs -> forced states and condition branches; raises ValueError naming the bad one."""
    keys = {t.key for t in job.tasks}
    states: dict[str, TaskState] = {}
    branches: dict[str, str] = {}
    for value in values:
        key, sep, state = value.rpartition("=")
        if not sep or not key:
            raise ValueError(f"--outcome {value!r}: expected KEY=STATE")
        if key not in keys:
            raise ValueError(f"--outcome {value!r}: no task {key!r} (tasks: {', '.join(sorted(keys))})")
        payload = job.task(key).payload
        if (
            isinstance(payload, BranchPayload)
            and payload.mode == "switch"
            and state in {*payload.cases, "default"}
        ):
            branches[key] = state  # an ADF Switch's case: `--outcome route/branch=eu`
        elif state.lower() in {"true", "false"}:
            branches[key] = state.lower()
        elif state.upper() in OUTCOME_ALIASES:
            states[key] = OUTCOME_ALIASES[state.upper()]
        else:
            raise ValueError(
                f"--outcome {value!r}: expected SUCCESS, FAILED, TIMEDOUT, CANCELED, true or false"
            )
    return states, branches


def certain_outcomes(job: Job) -> dict[str, TaskState]:
    """What a run decides without choice: a task the app cannot run fails, and so does a fail task."""
    failing = {task.key for _, task in cannot_run(job)}
    failing |= {task.key for task in job.tasks if isinstance(task.payload, FailPayload)}
    return dict.fromkeys(sorted(failing), TaskState.FAILED)


def simulation_json(job: Job, states: dict[str, TaskState], branches: dict[str, str]) -> dict[str, Any]:
    """The simulated run; `states` (the user's --outcome) win over the outcomes a run cannot avoid."""
    sim = simulate(job, {**certain_outcomes(job), **states}, branches)
    return {
        "tasks": {k: v.value for k, v in sim.tasks.items()},
        "result": sim.result.value if sim.result is not None else None,
    }


def run_simulate(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    result = load(args, args.file)
    for line in finding_lines(args.file, result):
        print(line, file=err)
    if result.job is None or _dag_broken(result):
        print(f"{args.file}: cannot simulate: the definition has no valid DAG", file=err)
        return EXIT_INVALID
    try:
        states, branches = parse_outcomes(args.outcome, result.job)
    except ValueError as exc:
        print(f"{args.file}: {exc}", file=err)
        return EXIT_INVALID
    print(json.dumps(simulation_json(result.job, states, branches)), file=out)
    return EXIT_OK
