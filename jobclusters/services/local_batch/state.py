"""What the local Batch executor knows about its pools, jobs and tasks, and how that survives a restart.

Everything lives in memory and is written to the SQLite store: pools and jobs when they change, task
runtime in batches (`mark` now, `take_dirty` when the scheduler flushes). `recover` rebuilds the memory
from the store; the scheduler then decides what the tasks that were running become.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from jobclusters.services.batch import JobSpec, PoolSpec, TaskSpec
from jobclusters.services.local_batch.store import LocalBatchStore

log = logging.getLogger(__name__)
PREEMPT_METADATA_KEY = "jobclusters-local-preempt-spot-fraction"

TaskKind = Literal["task", "jobManager", "startTask", "jobPreparation", "jobRelease"]


@dataclass
class Node:
    node_id: str
    spot: bool
    slots: int
    free: int


@dataclass
class Pool:
    spec: PoolSpec
    nodes: list[Node]
    start_state: str = "none"  # none | pending | running | succeeded | failed
    start_retries: int = 0
    auto_job: str | None = None
    preempt_fraction: float = 0.0

    def state(self) -> dict[str, Any]:
        return {"startState": self.start_state, "startRetries": self.start_retries, "autoJob": self.auto_job}


@dataclass
class Task:
    job_id: str
    spec: TaskSpec
    seq: int
    kind: TaskKind = "task"
    state: str = "active"
    retry_count: int = 0
    requeue_count: int = 0
    exit_code: int | None = None
    result: str | None = None
    failure: dict[str, Any] | None = None
    node_id: str | None = None
    pool_id: str | None = None
    start_time: float | None = None
    end_time: float | None = None
    first_start: float | None = None
    pgid: int | None = None
    task_dir: str | None = None
    kill_reason: str | None = None  # requeue | terminate | timeout, while the scheduler kills the process

    def runtime(self) -> dict[str, Any]:
        return {
            k: getattr(self, k)
            for k in (
                "state",
                "retry_count",
                "requeue_count",
                "exit_code",
                "result",
                "failure",
                "node_id",
                "pool_id",
                "start_time",
                "end_time",
                "first_start",
                "pgid",
                "task_dir",
            )
        }


@dataclass
class Job:
    spec: JobSpec
    pool_id: str
    created: float
    state: str = "active"  # active | completed
    # Per node, as on Batch: the preparation task runs on a node before the job's first task there.
    prep: dict[str, str] = field(default_factory=dict)  # node id -> running | succeeded | failed
    tasks: dict[str, Task] = field(default_factory=dict)
    ready: deque[str] = field(default_factory=deque)
    waiting: dict[str, set[str]] = field(default_factory=dict)
    dependents: dict[str, list[str]] = field(default_factory=dict)
    end_reason: str | None = None

    def state_json(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "created": self.created,
            "prep": {n: s for n, s in self.prep.items() if s != "running"},
            "poolId": self.pool_id,
            "endReason": self.end_reason,
        }


def failure(category: str, code: str, message: str) -> dict[str, Any]:
    return {"category": category, "code": code, "message": message}


def exit_options(spec: TaskSpec, exit_code: int | None, failure: dict[str, Any] | None) -> dict[str, Any]:
    """The `exitOptions` Batch applies to this outcome, from the task's `exitConditions`."""
    conditions = spec.exit_conditions or {}
    if failure is not None and failure.get("code") == "FileUploadError" and "fileUploadError" in conditions:
        return dict(conditions["fileUploadError"])
    if failure is not None and exit_code is None and "preProcessingError" in conditions:
        return dict(conditions["preProcessingError"])
    if exit_code is not None:
        for item in conditions.get("exitCodes", []):
            if item.get("code") == exit_code:
                return dict(item.get("exitOptions", {}))
        for item in conditions.get("exitCodeRanges", []):
            if item.get("start", 0) <= exit_code <= item.get("end", -1):
                return dict(item.get("exitOptions", {}))
    return dict(conditions.get("default", {}))


def dependencies(spec: TaskSpec) -> set[str]:
    deps = spec.depends_on
    if deps is None:
        return set()
    out = set(deps.task_ids)
    for r in deps.task_id_ranges:
        out.update(str(i) for i in range(r.start, r.end + 1))
    return out


def satisfies(dep: Task | None) -> bool:
    """Whether tasks depending on `dep` may run: it succeeded, or its exit options say `satisfy`."""
    if dep is None or dep.state != "completed":
        return False
    if dep.result == "success":
        return True
    return exit_options(dep.spec, dep.exit_code, dep.failure).get("dependencyAction") == "satisfy"


def pool_nodes(spec: PoolSpec, max_slots: int) -> Pool:
    """The pool's nodes on this machine: as many as the spec asks for, capped by `max_slots` task slots."""
    per_node = spec.task_slots_per_node
    if spec.enable_auto_scale:
        spot_share = 1.0 if "$TargetLowPriorityNodes" in (spec.auto_scale_formula or "") else 0.0
        total = max(1, max_slots // per_node)
    else:
        total = spec.node_count
        spot_share = (spec.target_low_priority_nodes or 0) / total if total else 0.0
    nodes_used = min(total, max(1, max_slots // per_node)) if total else 0
    spot_nodes = round(nodes_used * spot_share)
    nodes = [
        Node(
            node_id=f"tvm-{i:04d}{'-lp' if i >= nodes_used - spot_nodes else ''}",
            spot=i >= nodes_used - spot_nodes,
            slots=per_node,
            free=per_node,
        )
        for i in range(nodes_used)
    ]
    fraction = next((float(m.value) for m in spec.metadata if m.name == PREEMPT_METADATA_KEY), 0.0)
    pool = Pool(spec=spec, nodes=nodes, preempt_fraction=fraction)
    if spec.start_task is not None:
        pool.start_state = "pending"
    return pool


class BatchState:
    """Pools, jobs and tasks of one local Batch account, in memory and in the store.

    Not thread-safe: the scheduler's lock guards it.
    """

    def __init__(self, store: LocalBatchStore, clock: Callable[[], float]) -> None:
        self.store = store
        self.clock = clock
        self.pools: dict[str, Pool] = {}
        self.jobs: dict[str, Job] = {}
        self._seq = 0
        self._dirty: dict[tuple[str, str], Task] = {}

    # -- task runtime, written in batches ------------------------------------------------------------------
    def mark(self, task: Task) -> None:
        self._dirty[(task.job_id, task.spec.id)] = task

    @property
    def dirty(self) -> bool:
        return bool(self._dirty)

    def take_dirty(self) -> list[tuple[str, str, dict[str, Any]]]:
        rows = [(t.job_id, t.spec.id, t.runtime()) for t in self._dirty.values() if t.seq >= 0]
        self._dirty.clear()
        return rows

    def flush(self) -> None:
        rows = self.take_dirty()
        if rows:
            self.store.update_tasks(rows)

    # -- pools and jobs, written at once -----------------------------------------------------------------
    def save_pool(self, pool: Pool) -> None:
        self.store.put_pool(pool.spec.id, pool.spec.to_rest(), pool.state())

    def add_pool(self, pool: Pool) -> None:
        self.pools[pool.spec.id] = pool
        self.save_pool(pool)

    def remove_pool(self, pool_id: str) -> Pool | None:
        pool = self.pools.pop(pool_id, None)
        if pool is not None:
            self.store.delete_pool(pool_id)
        return pool

    def save_job(self, job: Job) -> None:
        self.store.put_job(job.spec.id, job.spec.to_rest(), job.state_json())

    def add_job(self, job: Job) -> None:
        self.jobs[job.spec.id] = job
        self.save_job(job)

    def delete_job(self, job_id: str) -> None:
        del self.jobs[job_id]
        self.store.delete_job(job_id)
        for key in [k for k in self._dirty if k[0] == job_id]:
            del self._dirty[key]

    def insert_tasks(self, job: Job, specs: list[TaskSpec], *, kind: TaskKind) -> list[Task]:
        rows: list[tuple[str, str, int, str, dict[str, Any], dict[str, Any]]] = []
        tasks: list[Task] = []
        for spec in specs:
            task = Task(job_id=job.spec.id, spec=spec, seq=self._seq, kind=kind)
            self._seq += 1
            job.tasks[spec.id] = task
            tasks.append(task)
            rows.append((job.spec.id, spec.id, task.seq, kind, spec.to_rest(), task.runtime()))
        self.store.insert_tasks(rows)
        return tasks

    # -- recovery ----------------------------------------------------------------------------------------
    def recover(self, make_pool: Callable[[PoolSpec], Pool]) -> list[tuple[Job, Task]]:
        """Load the store into memory; returns the unfinished tasks (running or active), job by job in
        submission order, for the scheduler to resume. Unreadable records are logged and skipped."""
        pools, jobs, tasks = self.store.load()
        for pool_id, spec, state in pools:
            try:
                pool = make_pool(PoolSpec.model_validate(spec))
            except ValueError as exc:
                log.error("local batch: pool %s in the state cannot be read, skipped: %s", pool_id, exc)
                continue
            saved = state.get("startState", "none")
            pool.start_state = "pending" if saved in ("pending", "running") else saved
            pool.start_retries = state.get("startRetries", 0)
            pool.auto_job = state.get("autoJob")
            self.pools[pool_id] = pool
        for job_id, spec, state in jobs:
            try:
                job = Job(
                    spec=JobSpec.model_validate(spec),
                    pool_id=state["poolId"],
                    state=state.get("state", "active"),
                    created=state.get("created", self.clock()),
                    end_reason=state.get("endReason"),
                )
            except (ValueError, KeyError) as exc:
                log.error("local batch: job %s in the state cannot be read, skipped: %s", job_id, exc)
                continue
            job.prep = dict(state.get("prep", {}))
            self.jobs[job_id] = job
        for job_id, task_id, seq, kind, spec, rt in tasks:
            owner = self.jobs.get(job_id)
            if owner is None:
                continue
            try:
                task = Task(job_id=job_id, spec=TaskSpec.model_validate(spec), seq=seq, kind=kind)  # type: ignore[arg-type]
            except ValueError as exc:
                log.error(
                    "local batch: task %s/%s in the state cannot be read, skipped: %s", job_id, task_id, exc
                )
                continue
            for key, value in rt.items():
                if key in Task.__dataclass_fields__:
                    setattr(task, key, value)
            self._seq = max(self._seq, seq + 1)
            owner.tasks[task_id] = task
        return [
            (job, task)
            for job in self.jobs.values()
            for task in sorted(job.tasks.values(), key=lambda t: t.seq)
            if task.state in ("running", "active")
        ]
