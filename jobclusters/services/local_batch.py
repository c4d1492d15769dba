"""BatchService that really runs tasks on this machine, with Azure Batch's semantics.

A pool is a set of task slots (nodes x taskSlotsPerNode, capped by the machine). Each task is a
`/bin/sh -c` subprocess in its own session and working directory, with the `AZ_BATCH_*` variables Batch
sets. One long-lived object owns a scheduler thread, so `add_tasks` returns at once and callers poll
`get_task_counts`, exactly as orchestrators poll Azure Batch. Everything is persisted in SQLite under the
state dir: a new owner after a crash kills the orphaned process groups and reports the tasks that were
running as failed attempts (retried while retries remain), never as lost.

Where Batch would leave tasks waiting forever on a node that cannot start (failed start task or job
preparation task with `waitForSuccess`), the local executor fails them with that code instead, so a run
on one machine always ends.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import logging
import os
import random
import shutil
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from jobclusters.services.batch import (
    AddTasksResult,
    BatchServiceError,
    FailedTask,
    JobSpec,
    OutputFile,
    PoolPlacement,
    PoolRef,
    PoolSpec,
    TaskAddFailure,
    TaskConstraints,
    TaskCounts,
    TaskSpec,
    pool_from_rest,
    resolve_environment,
)
from jobclusters.services.blob_io import BlobIO
from jobclusters.services.local_batch_files import (
    FileTransferError,
    fetch_resource_files,
    upload_output_files,
)
from jobclusters.services.local_batch_store import LocalBatchStore

log = logging.getLogger(__name__)
ACCOUNT_NAME = "localbatch"
PREEMPT_METADATA_KEY = "jobclusters-local-preempt-spot-fraction"
_BASE_ENV = ("PATH", "LANG", "LC_ALL", "TZ", "HOME", "TMPDIR", "USER", "LOGNAME", "SHELL")

TaskKind = Literal["task", "jobManager", "startTask", "jobPreparation", "jobRelease"]


@dataclass
class _Node:
    node_id: str
    spot: bool
    slots: int
    free: int


@dataclass
class _Pool:
    spec: PoolSpec
    nodes: list[_Node]
    start_state: str = "none"  # none | pending | running | succeeded | failed
    start_retries: int = 0
    auto_job: str | None = None
    preempt_fraction: float = 0.0

    def state(self) -> dict[str, Any]:
        return {"startState": self.start_state, "startRetries": self.start_retries, "autoJob": self.auto_job}


@dataclass
class _Task:
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
    kill_reason: str | None = None

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
class _Job:
    spec: JobSpec
    pool_id: str
    state: str = "active"  # active | completed
    created: float = field(default_factory=time.time)
    # Per node, as on Batch: the preparation task runs on a node before the job's first task there.
    prep: dict[str, str] = field(default_factory=dict)  # node id -> running | succeeded | failed
    tasks: dict[str, _Task] = field(default_factory=dict)
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


@dataclass
class _Launch:
    task: _Task
    pool_id: str
    node: _Node
    task_dir: str
    wd: str
    env: dict[str, str]
    preempt: bool


@dataclass
class _Outcome:
    task: _Task
    exit_code: int | None
    failure: dict[str, Any] | None = None
    preempted: bool = False
    timed_out: bool = False
    node: _Node | None = None


def _failure(category: str, code: str, message: str) -> dict[str, Any]:
    return {"category": category, "code": code, "message": message}


def _kill_group(pgid: int | None) -> None:
    if pgid:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)


def _iso(ts: float | None) -> datetime | None:
    return datetime.fromtimestamp(ts, UTC) if ts is not None else None


def _exit_options(spec: TaskSpec, exit_code: int | None, failure: dict[str, Any] | None) -> dict[str, Any]:
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


class LocalBatchService:
    """The local Batch account. One per state dir per process: use `shared_local_batch()` from activities."""

    def __init__(
        self,
        state_dir: Path,
        *,
        storage_connection: str | None = None,
        max_slots: int | None = None,
        preempt_seed: int | None = None,
        max_requeues: int = 3,
    ) -> None:
        self._root = Path(state_dir).resolve() / "batch"
        self._root.mkdir(parents=True, exist_ok=True)
        self._lock_file = open(self._root / "owner.lock", "w")  # noqa: SIM115 - held for the object's life
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock_file.close()
            raise RuntimeError(f"another process owns the local Batch state in {self._root}") from None
        self._store = LocalBatchStore(self._root / "batch.sqlite")
        self._blob = BlobIO(storage_connection)
        self._max_slots = max_slots or max(2, (os.cpu_count() or 1) * 4)
        self._rng = random.Random(preempt_seed)
        self._max_requeues = max_requeues
        # Workers never take `_lock`: they hand results over through deques and wake the scheduler.
        self._lock = threading.RLock()
        self._wake = threading.Event()
        self._procs_lock = threading.Lock()
        self._pools: dict[str, _Pool] = {}
        self._jobs: dict[str, _Job] = {}
        self._outcomes: deque[_Outcome] = deque()
        self._started: deque[_Task] = deque()
        self._running: dict[int, subprocess.Popen[bytes]] = {}
        self._env_cache: dict[tuple[str, str, str], dict[str, str]] = {}
        self._dirty_tasks: dict[tuple[str, str], _Task] = {}
        self._seq = 0
        self._stopping = False
        self._recover()
        self._thread = threading.Thread(target=self._loop, name="local-batch-scheduler", daemon=True)
        self._thread.start()

    # -- lifecycle -------------------------------------------------------------------------------------
    def close(self) -> None:
        """Stop the scheduler and kill running processes; their tasks stay `running` in the state, so the
        next owner reports them as interrupted attempts (the same as after a crash)."""
        with self._lock:
            if self._stopping:
                return
            self._stopping = True
            self._wake.set()
        with self._procs_lock:
            procs = list(self._running.values())
        for proc in procs:
            _kill_group(proc.pid)
        self._thread.join(timeout=10)
        with _shared_lock:
            if _shared.get(self._root.parent) is self:
                del _shared[self._root.parent]
        with self._lock:
            while self._started:
                self._mark(self._started.popleft())
            self._flush()
        self._store.close()
        with contextlib.suppress(OSError):
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)
        self._lock_file.close()

    def __enter__(self) -> LocalBatchService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _recover(self) -> None:
        pools, jobs, tasks = self._store.load()
        for pool_id, spec, state in pools:
            try:
                pool = self._make_pool(PoolSpec.model_validate(spec))
            except ValueError as exc:
                log.error("local batch: pool %s in the state cannot be read, skipped: %s", pool_id, exc)
                continue
            saved = state.get("startState", "none")
            pool.start_state = "pending" if saved in ("pending", "running") else saved
            pool.start_retries = state.get("startRetries", 0)
            pool.auto_job = state.get("autoJob")
            self._pools[pool_id] = pool
        for job_id, spec, state in jobs:
            try:
                job = _Job(
                    spec=JobSpec.model_validate(spec),
                    pool_id=state["poolId"],
                    state=state.get("state", "active"),
                    created=state.get("created", time.time()),
                    end_reason=state.get("endReason"),
                )
            except (ValueError, KeyError) as exc:
                log.error("local batch: job %s in the state cannot be read, skipped: %s", job_id, exc)
                continue
            job.prep = dict(state.get("prep", {}))
            self._jobs[job_id] = job
        interrupted = 0
        for job_id, task_id, seq, kind, spec, rt in tasks:
            owner = self._jobs.get(job_id)
            if owner is None:
                continue
            try:
                task = _Task(job_id=job_id, spec=TaskSpec.model_validate(spec), seq=seq, kind=kind)  # type: ignore[arg-type]
            except ValueError as exc:
                log.error(
                    "local batch: task %s/%s in the state cannot be read, skipped: %s", job_id, task_id, exc
                )
                continue
            for key, value in rt.items():
                if key in _Task.__dataclass_fields__:
                    setattr(task, key, value)
            self._seq = max(self._seq, seq + 1)
            owner.tasks[task_id] = task
            if task.state == "running":
                interrupted += 1
                _kill_group(task.pgid)
        for job in self._jobs.values():
            for task in sorted(job.tasks.values(), key=lambda t: t.seq):
                if task.state == "running":
                    task.pgid = None
                    self._finish_attempt(
                        job,
                        task,
                        None,
                        _failure(
                            "ServerError",
                            "ExecutorRestarted",
                            "The local Batch executor restarted while the task ran; that attempt is lost.",
                        ),
                        retriable=True,
                    )
                elif task.state == "active":
                    self._register(job, task)
        if interrupted:
            log.warning("local batch: %d task(s) were running when the previous owner stopped", interrupted)
        self._flush()

    # -- pools -----------------------------------------------------------------------------------------
    def _make_pool(self, spec: PoolSpec) -> _Pool:
        per_node = spec.task_slots_per_node
        if spec.enable_auto_scale:
            spot_share = 1.0 if "$TargetLowPriorityNodes" in (spec.auto_scale_formula or "") else 0.0
            total = max(1, self._max_slots // per_node)
        else:
            total = spec.node_count
            spot_share = (spec.target_low_priority_nodes or 0) / total if total else 0.0
        nodes_used = min(total, max(1, self._max_slots // per_node)) if total else 0
        spot_nodes = round(nodes_used * spot_share)
        nodes = [
            _Node(
                node_id=f"tvm-{i:04d}{'-lp' if i >= nodes_used - spot_nodes else ''}",
                spot=i >= nodes_used - spot_nodes,
                slots=per_node,
                free=per_node,
            )
            for i in range(nodes_used)
        ]
        for node in nodes:
            (self._node_root(spec.id, node.node_id) / "shared").mkdir(parents=True, exist_ok=True)
        fraction = next((float(m.value) for m in spec.metadata if m.name == PREEMPT_METADATA_KEY), 0.0)
        pool = _Pool(spec=spec, nodes=nodes, preempt_fraction=fraction)
        if spec.start_task is not None:
            pool.start_state = "pending"
        return pool

    def _add_pool(self, spec: PoolSpec, auto_job: str | None = None) -> _Pool:
        pool = self._make_pool(spec)
        pool.auto_job = auto_job
        self._pools[spec.id] = pool
        self._store.put_pool(spec.id, spec.to_rest(), pool.state())
        return pool

    def ensure_pool(self, placement: PoolPlacement, *, owner: str) -> PoolRef:
        with self._lock:
            if placement.mode == "existing":
                existing = self._pools.get(placement.pool_id or "")
                if existing is None:
                    raise BatchServiceError("PoolNotFound", f"pool {placement.pool_id!r} does not exist", 404)
                spec = existing.spec
                return PoolRef(
                    mode="existing",
                    pool_id=spec.id,
                    vm_size=spec.vm_size,
                    node_count=len(existing.nodes),
                    low_priority=any(n.spot for n in existing.nodes),
                )
            assert placement.pool is not None
            spec = placement.pool
            if placement.mode == "autoPool":
                body = spec.to_rest()
                body.pop("id", None)
                from jobclusters.services.batch import AutoPoolSpecification

                auto = AutoPoolSpecification(
                    auto_pool_id_prefix=placement.auto_pool_id_prefix,
                    keep_alive=placement.keep_alive,
                    pool=body,
                )
                return PoolRef(
                    mode="autoPool",
                    auto_pool_specification=auto,
                    vm_size=spec.vm_size,
                    node_count=spec.node_count,
                    low_priority=bool(spec.target_low_priority_nodes),
                )
            pool = self._pools.get(spec.id)
            if pool is None:
                pool = self._add_pool(spec.with_owner(owner))
                created = True
            else:
                created = pool.spec.owner() == owner
            self._wake.set()
            return PoolRef(
                mode="onDemand",
                pool_id=spec.id,
                created=created,
                vm_size=spec.vm_size,
                node_count=len(pool.nodes),
                low_priority=any(n.spot for n in pool.nodes),
            )

    def delete_pool(self, ref: PoolRef) -> bool:
        if ref.mode != "onDemand" or not ref.created or ref.pool_id is None:
            return False
        with self._lock:
            self._remove_pool(ref.pool_id)
        return True

    def _remove_pool(self, pool_id: str) -> None:
        pool = self._pools.pop(pool_id, None)
        if pool is None:
            return
        for job in self._jobs.values():
            for task in job.tasks.values():
                if task.state == "running" and task.pool_id == pool_id:
                    task.kill_reason = "requeue"
                    self._kill_task(task)
        self._store.delete_pool(pool_id)
        shutil.rmtree(self._root / "pools" / pool_id, ignore_errors=True)

    # -- jobs ------------------------------------------------------------------------------------------
    def create_job(self, job: JobSpec) -> None:
        with self._lock:
            if job.id in self._jobs:
                return
            info = job.pool_info
            if info.auto_pool_specification is not None:
                prefix = info.auto_pool_specification.auto_pool_id_prefix or "auto"
                pool_id = f"{prefix}_{job.id}"[:64]
                if pool_id not in self._pools:
                    self._add_pool(
                        pool_from_rest({**info.auto_pool_specification.pool, "id": pool_id}),
                        auto_job=None if info.auto_pool_specification.keep_alive else job.id,
                    )
            else:
                assert info.pool_id is not None
                pool_id = info.pool_id
            state = _Job(spec=job, pool_id=pool_id)
            self._jobs[job.id] = state
            self._store.put_job(job.id, job.to_rest(), state.state_json())
            manager = job.job_manager_task
            if manager is not None:
                spec = TaskSpec(
                    id=manager.id,
                    command_line=manager.command_line,
                    display_name=manager.display_name,
                    resource_files=manager.resource_files,
                    output_files=manager.output_files,
                    environment_settings=manager.environment_settings,
                    constraints=manager.constraints,
                    required_slots=manager.required_slots,
                )
                self._insert_tasks(state, [spec], kind="jobManager")
            self._wake.set()

    def terminate_job(self, job_id: str) -> None:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is not None:
                self._end_job(job, "UserTerminate")

    def delete_job(self, job_id: str) -> None:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                return
            self._end_job(job, "UserTerminate")
            del self._jobs[job_id]
            self._store.delete_job(job_id)
            for key in [k for k in self._dirty_tasks if k[0] == job_id]:
                del self._dirty_tasks[key]
            for node_dir in (self._root / "pools").glob("*/nodes/*/workitems/" + job_id):
                shutil.rmtree(node_dir, ignore_errors=True)

    def _end_job(self, job: _Job, reason: str) -> None:
        if job.state == "completed":
            return
        job.state = "completed"
        job.end_reason = reason
        for task in job.tasks.values():
            if task.state == "running":
                task.kill_reason = "terminate"
                self._kill_task(task)
        self._store.put_job(job.spec.id, job.spec.to_rest(), job.state_json())
        release = job.spec.job_release_task
        pool = self._pools.get(job.pool_id)
        if release is not None and pool is not None and pool.nodes:
            spec = TaskSpec(
                id=release.id or "jobrelease",
                command_line=release.command_line,
                resource_files=release.resource_files,
                environment_settings=release.environment_settings,
                constraints=TaskConstraints(max_wall_clock_time=release.max_wall_clock_time),
            )
            task = _Task(job_id=job.spec.id, spec=spec, seq=-1, kind="jobRelease")
            self._start(job, task, pool, pool.nodes[0], preempt=False)
        if pool is not None and pool.auto_job == job.spec.id:
            self._remove_pool(pool.spec.id)

    # -- tasks -----------------------------------------------------------------------------------------
    def add_tasks(self, job_id: str, tasks: Sequence[TaskSpec]) -> AddTasksResult:
        ids = [t.id for t in tasks]
        if len(set(ids)) != len(ids):
            raise ValueError("task ids must be unique within one add_tasks call")
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                raise BatchServiceError("JobNotFound", f"job {job_id!r} does not exist", 404)
            if job.state != "active":
                raise BatchServiceError(
                    "JobCompleted", f"job {job_id!r} has completed; no tasks can be added", 409
                )
            result = AddTasksResult()
            new: list[TaskSpec] = []
            for spec in tasks:
                if spec.id in job.tasks:
                    result.added.append(spec.id)
                elif spec.depends_on is not None and not job.spec.uses_task_dependencies:
                    result.failed.append(
                        TaskAddFailure(
                            task_id=spec.id,
                            code="TaskDependenciesNotSpecifiedOnJob",
                            message="The job does not have usesTaskDependencies set.",
                        )
                    )
                else:
                    new.append(spec)
                    result.added.append(spec.id)
            self._insert_tasks(job, new, kind="task")
            self._wake.set()
            return result

    def _insert_tasks(self, job: _Job, specs: list[TaskSpec], *, kind: TaskKind) -> None:
        rows: list[tuple[str, str, int, str, dict[str, Any], dict[str, Any]]] = []
        for spec in specs:
            task = _Task(job_id=job.spec.id, spec=spec, seq=self._seq, kind=kind)
            self._seq += 1
            job.tasks[spec.id] = task
            rows.append((job.spec.id, spec.id, task.seq, kind, spec.to_rest(), task.runtime()))
        self._store.insert_tasks(rows)
        for spec in specs:
            self._register(job, job.tasks[spec.id], front=kind == "jobManager")

    def _dependencies(self, spec: TaskSpec) -> set[str]:
        deps = spec.depends_on
        if deps is None:
            return set()
        out = set(deps.task_ids)
        for r in deps.task_id_ranges:
            out.update(str(i) for i in range(r.start, r.end + 1))
        return out

    def _register(self, job: _Job, task: _Task, *, front: bool = False) -> None:
        unmet = {d for d in self._dependencies(task.spec) if not self._satisfies(job.tasks.get(d))}
        if unmet:
            job.waiting[task.spec.id] = unmet
            for dep in unmet:
                job.dependents.setdefault(dep, []).append(task.spec.id)
        elif front:
            job.ready.appendleft(task.spec.id)
        else:
            job.ready.append(task.spec.id)

    @staticmethod
    def _satisfies(dep: _Task | None) -> bool:
        if dep is None or dep.state != "completed":
            return False
        if dep.result == "success":
            return True
        return _exit_options(dep.spec, dep.exit_code, dep.failure).get("dependencyAction") == "satisfy"

    def get_task_counts(self, job_id: str) -> TaskCounts:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                raise BatchServiceError("JobNotFound", f"job {job_id!r} does not exist", 404)
            counts = TaskCounts()
            for task in job.tasks.values():
                if task.kind not in ("task", "jobManager"):
                    continue
                if task.state == "completed":
                    counts.completed += 1
                    if task.result == "success":
                        counts.succeeded += 1
                    else:
                        counts.failed += 1
                elif task.state == "running":
                    counts.running += 1
                else:
                    counts.active += 1
            return counts

    def list_failed_tasks(self, job_id: str) -> list[FailedTask]:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                raise BatchServiceError("JobNotFound", f"job {job_id!r} does not exist", 404)
            out = []
            for task in sorted(job.tasks.values(), key=lambda t: t.seq):
                if task.state != "completed" or task.result == "success":
                    continue
                failure = task.failure or {}
                logs = {}
                if task.task_dir:
                    logs = {n: (Path(task.task_dir) / n).as_uri() for n in ("stdout.txt", "stderr.txt")}
                out.append(
                    FailedTask(
                        task_id=task.spec.id,
                        exit_code=task.exit_code,
                        category=failure.get("category"),
                        code=failure.get("code"),
                        message=failure.get("message"),
                        retry_count=task.retry_count,
                        requeue_count=task.requeue_count,
                        node_id=task.node_id,
                        start_time=_iso(task.start_time),
                        end_time=_iso(task.end_time),
                        log_urls=logs,
                    )
                )
            return out

    def task_dir(self, job_id: str, task_id: str) -> Path | None:
        """Where a task's stdout.txt / stderr.txt and `wd/` live on this machine (for logs and tests)."""
        with self._lock:
            job = self._jobs.get(job_id)
            task = job.tasks.get(task_id) if job is not None else None
            return Path(task.task_dir) if task is not None and task.task_dir else None

    def task_state(self, job_id: str, task_id: str) -> dict[str, Any]:
        with self._lock:
            return dict(self._jobs[job_id].tasks[task_id].runtime())

    # -- scheduler ---------------------------------------------------------------------------------------
    def _loop(self) -> None:
        """One scheduling step per wake-up; state is written outside the lock, at most every 100 ms."""
        last_flush = 0.0
        while True:
            rows: list[tuple[str, str, dict[str, Any]]] = []
            self._wake.clear()
            with self._lock:
                if self._stopping:
                    return
                while self._started:
                    self._mark(self._started.popleft())
                try:
                    self._apply_outcomes()
                    self._check_deadlines()
                    self._schedule()
                except Exception:
                    log.exception("local batch scheduler step failed")
                now = time.monotonic()
                if self._dirty_tasks and (now - last_flush >= 0.1 or not self._running):
                    rows, last_flush = self._take_dirty(), now
                idle = 0.1 if self._dirty_tasks or self._running or self._started else 0.5
            if rows:
                self._store.update_tasks(rows)
            if not self._outcomes:
                self._wake.wait(timeout=idle)

    def _take_dirty(self) -> list[tuple[str, str, dict[str, Any]]]:
        rows = [(t.job_id, t.spec.id, t.runtime()) for t in self._dirty_tasks.values() if t.seq >= 0]
        self._dirty_tasks.clear()
        return rows

    def _flush(self) -> None:
        rows = self._take_dirty()
        if rows:
            self._store.update_tasks(rows)

    def _mark(self, task: _Task) -> None:
        self._dirty_tasks[(task.job_id, task.spec.id)] = task

    def _check_deadlines(self) -> None:
        now = time.time()
        for job in self._jobs.values():
            limit = job.spec.constraints.max_wall_clock_time if job.spec.constraints else None
            if job.state == "active" and limit is not None and now - job.created > limit.total_seconds():
                self._end_job(job, "MaxWallClockTimeExpiry")

    def _schedule(self) -> None:
        for candidate in list(self._pools.values()):
            if candidate.start_state == "pending" and candidate.nodes:
                self._run_start_task(candidate)
        for job in list(self._jobs.values()):
            if job.state != "active" or not job.ready:
                continue
            pool = self._pools.get(job.pool_id)
            if pool is None or pool.start_state in ("pending", "running"):
                continue
            if pool.start_state == "failed":
                self._fail_ready(job, "StartTaskFailed", "The pool's start task failed (waitForSuccess).")
                continue
            if job.spec.job_preparation_task is not None:
                for each in pool.nodes:
                    if each.node_id not in job.prep and each.free > 0:
                        self._run_job_preparation(job, pool, each)
                if pool.nodes and all(job.prep.get(n.node_id) == "failed" for n in pool.nodes):
                    self._fail_ready(job, "JobPreparationTaskFailed", "The job preparation task failed.")
                    continue
            while job.ready:
                task = job.tasks.get(job.ready[0])
                if task is None or task.state != "active":
                    job.ready.popleft()
                    continue
                node = self._pick_node(pool, task.spec.required_slots or 1, job)
                if node is None:
                    break
                job.ready.popleft()
                self._start(job, task, pool, node, preempt=self._preempts(pool, node, task))

    def _preempts(self, pool: _Pool, node: _Node, task: _Task) -> bool:
        return (
            node.spot
            and pool.preempt_fraction > 0
            and task.requeue_count < self._max_requeues
            and self._rng.random() < pool.preempt_fraction
        )

    def _next_launch(self, pool_id: str, node: _Node) -> _Launch | None:
        """Under the lock: the next ready task that fits on `node`, claimed for the worker that just
        freed a slot there, so a busy pool never waits for a scheduler round trip between tasks."""
        pool = self._pools.get(pool_id)
        if pool is None or pool.start_state in ("pending", "running", "failed") or node not in pool.nodes:
            return None
        for job in self._jobs.values():
            if job.state != "active" or job.pool_id != pool_id or not self._prepared(job, node):
                continue
            while job.ready:
                task = job.tasks.get(job.ready[0])
                if task is None or task.state != "active":
                    job.ready.popleft()
                    continue
                if node.free < (task.spec.required_slots or 1):
                    return None
                job.ready.popleft()
                launch = self._claim(job, task, pool, node, preempt=self._preempts(pool, node, task))
                if launch is not None:
                    return launch
        return None

    def _fail_ready(self, job: _Job, code: str, message: str) -> None:
        while job.ready:
            task = job.tasks.get(job.ready.popleft())
            if task is not None and task.state == "active":
                self._finish_attempt(job, task, None, _failure("UserError", code, message), retriable=False)

    @staticmethod
    def _prepared(job: _Job, node: _Node) -> bool:
        return job.spec.job_preparation_task is None or job.prep.get(node.node_id) == "succeeded"

    def _pick_node(self, pool: _Pool, slots: int, job: _Job) -> _Node | None:
        fill = (pool.spec.task_scheduling_policy or {}).get("nodeFillType", "spread")
        candidates = [n for n in pool.nodes if n.free >= slots and self._prepared(job, n)]
        if not candidates:
            return None
        if fill == "pack":
            return candidates[0]
        return max(candidates, key=lambda n: n.free)

    def _node_root(self, pool_id: str, node_id: str) -> Path:
        return self._root / "pools" / pool_id / "nodes" / node_id

    def _base_env(self, pool: _Pool, node: _Node, job: _Job | None) -> dict[str, str]:
        """What every task of this job on this node sees (computed once; a job's spec never changes)."""
        key = (pool.spec.id, node.node_id, job.spec.id if job is not None else "")
        cached = self._env_cache.get(key)
        if cached is not None:
            return cached
        root = str(self._node_root(pool.spec.id, node.node_id))
        env = {k: os.environ[k] for k in _BASE_ENV if k in os.environ}
        env.update(
            {
                "AZ_BATCH_ACCOUNT_NAME": ACCOUNT_NAME,
                "AZ_BATCH_ACCOUNT_URL": "local://" + ACCOUNT_NAME,
                "AZ_BATCH_POOL_ID": pool.spec.id,
                "AZ_BATCH_NODE_ID": node.node_id,
                "AZ_BATCH_NODE_IS_DEDICATED": "false" if node.spot else "true",
                "AZ_BATCH_NODE_ROOT_DIR": root,
                "AZ_BATCH_NODE_SHARED_DIR": root + "/shared",
                "AZ_BATCH_NODE_STARTUP_DIR": root + "/startup",
            }
        )
        if job is not None:
            prep = f"{root}/workitems/{job.spec.id}/job-1/jobpreparation"
            env["AZ_BATCH_JOB_ID"] = job.spec.id
            env["AZ_BATCH_JOB_PREP_DIR"] = prep
            env["AZ_BATCH_JOB_PREP_WORKING_DIR"] = prep + "/wd"
            for pair in resolve_environment(job.spec.common_environment_settings):
                env[pair["name"]] = pair["value"]
        self._env_cache[key] = env
        return env

    def _env(
        self, pool: _Pool, node: _Node, job: _Job | None, task: _Task, task_dir: str, wd: str
    ) -> dict[str, str]:
        env = dict(self._base_env(pool, node, job))
        env["AZ_BATCH_TASK_DIR"] = task_dir
        env["AZ_BATCH_TASK_WORKING_DIR"] = wd
        env["AZ_BATCH_TASK_ID"] = task.spec.id
        if task.spec.environment_settings:
            for pair in resolve_environment(task.spec.environment_settings):
                env[pair["name"]] = pair["value"]
        return env

    def _start(self, job: _Job | None, task: _Task, pool: _Pool, node: _Node, *, preempt: bool) -> None:
        launch = self._claim(job, task, pool, node, preempt=preempt)
        if launch is not None:
            thread = threading.Thread(target=self._worker, args=(launch,), name="batch-task", daemon=True)
            thread.start()

    def _claim(
        self, job: _Job | None, task: _Task, pool: _Pool, node: _Node, *, preempt: bool
    ) -> _Launch | None:
        root = str(self._node_root(pool.spec.id, node.node_id))
        if task.kind == "startTask":
            task_dir = root + "/startup"
        elif job is not None and task.kind in ("jobPreparation", "jobRelease"):
            name = "jobpreparation" if task.kind == "jobPreparation" else "jobrelease"
            task_dir = f"{root}/workitems/{job.spec.id}/job-1/{name}"
        else:
            assert job is not None
            task_dir = f"{root}/workitems/{job.spec.id}/job-1/{task.spec.id}"
        wd = task_dir + "/wd"
        node.free -= task.spec.required_slots or 1
        now = time.time()
        task.state, task.node_id, task.pool_id = "running", node.node_id, pool.spec.id
        task.start_time, task.end_time, task.task_dir, task.kill_reason = now, None, task_dir, None
        task.first_start = task.first_start or now
        self._mark(task)
        try:
            env = self._env(pool, node, job, task, task_dir, wd)
        except BatchServiceError as exc:
            failure = _failure("UserError", "InvalidEnvironment", str(exc))
            self._outcomes.append(_Outcome(task, None, failure, node=node))
            self._wake.set()
            return None
        return _Launch(task, pool.spec.id, node, task_dir, wd, env, preempt)

    def _kill_task(self, task: _Task) -> None:
        with self._procs_lock:
            proc = self._running.get(id(task))
        if proc is not None:
            _kill_group(proc.pid)

    def _worker(self, launch: _Launch | None) -> None:
        """Run a task, record its outcome, and go on with the next ready task for the same slot."""
        while launch is not None:
            task = launch.task
            try:
                outcome = self._run_process(task, launch.task_dir, launch.wd, launch.env, launch.preempt)
            except Exception as exc:  # never let a worker thread die silently
                log.exception("local batch task %s failed to run", task.spec.id)
                outcome = _Outcome(
                    task, None, _failure("ServerError", "ExecutorError", f"{type(exc).__name__}: {exc}")
                )
            outcome.node = launch.node
            with self._lock:
                self._apply_outcome(outcome)
                launch = None if self._stopping else self._next_launch(launch.pool_id, launch.node)
            if launch is None:
                self._wake.set()

    def _run_process(
        self, task: _Task, task_dir: str, wd: str, env: dict[str, str], preempt: bool
    ) -> _Outcome:
        for folder in (task_dir, wd):
            try:
                os.mkdir(folder)
            except FileNotFoundError:
                os.makedirs(folder, exist_ok=True)
            except FileExistsError:
                pass
        if task.spec.resource_files:
            try:
                fetch_resource_files(task.spec.resource_files, Path(wd), self._blob)
            except FileTransferError as exc:
                return _Outcome(task, None, _failure("UserError", exc.code, str(exc)))
        limit = task.spec.constraints.max_wall_clock_time if task.spec.constraints else None
        with open(task_dir + "/stdout.txt", "wb") as out, open(task_dir + "/stderr.txt", "wb") as err:
            proc = subprocess.Popen(
                ["/bin/sh", "-c", task.spec.command_line],
                cwd=wd,
                env=env,
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                close_fds=True,
            )
        with self._procs_lock:
            self._running[id(task)] = proc
        task.pgid = proc.pid
        self._started.append(task)  # persisted (with its pgid) by the scheduler's next flush
        if self._stopping or task.kill_reason is not None:
            _kill_group(proc.pid)
        timed_out = False
        try:
            if preempt:
                time.sleep(0.02)
                _kill_group(proc.pid)
                proc.wait()
                return _Outcome(task, None, preempted=True)
            remaining = None
            if limit is not None:
                remaining = max(
                    0.0, limit.total_seconds() - (time.time() - (task.first_start or time.time()))
                )
            try:
                proc.wait(timeout=remaining)
            except subprocess.TimeoutExpired:
                timed_out = True
                _kill_group(proc.pid)
                proc.wait()
        finally:
            with self._procs_lock:
                self._running.pop(id(task), None)
        code = proc.returncode
        if task.kill_reason == "requeue":
            return _Outcome(task, None, preempted=True)
        if task.kill_reason == "terminate":
            return _Outcome(
                task,
                code,
                _failure("UserError", "TaskEnded", "The task was ended by a terminate job request."),
            )
        if timed_out:
            ended = _failure(
                "UserError", "TaskEnded", "The task exceeded its maxWallClockTime and was terminated."
            )
            with contextlib.suppress(FileTransferError):
                self._upload(task, wd, succeeded=False)
            return _Outcome(task, code, ended, timed_out=True)
        failure: dict[str, Any] | None = None
        if code != 0:
            failure = _failure(
                "UserError", "FailureExitCode", f"The task process exited with exit code {code}."
            )
        try:
            self._upload(task, wd, succeeded=code == 0)
        except FileTransferError as exc:
            failure = _failure("UserError", exc.code, str(exc))
        return _Outcome(task, code, failure)

    def _upload(self, task: _Task, wd: str, *, succeeded: bool) -> None:
        files: list[OutputFile] = task.spec.output_files
        if files:
            upload_output_files(files, Path(wd), succeeded=succeeded, blob=self._blob)

    def _apply_outcomes(self) -> None:
        while self._outcomes:
            self._apply_outcome(self._outcomes.popleft())

    def _apply_outcome(self, outcome: _Outcome) -> None:
        task = outcome.task
        if outcome.node is not None:
            outcome.node.free += task.spec.required_slots or 1
        task.pgid = None
        if task.kind == "startTask":
            self._start_task_done(outcome)
            return
        job = self._jobs.get(task.job_id)
        if job is None:
            return
        if task.kind == "jobPreparation":
            self._prep_done(job, outcome)
            return
        if task.kind == "jobRelease":
            return
        if outcome.preempted:
            task.state, task.requeue_count, task.node_id = "active", task.requeue_count + 1, None
            self._mark(task)
            if job.state == "active":
                job.ready.appendleft(task.spec.id)
            self._wake.set()
            return
        retriable = not outcome.timed_out and task.kill_reason != "terminate"
        self._finish_attempt(job, task, outcome.exit_code, outcome.failure, retriable=retriable)

    def _max_retries(self, job: _Job, task: _Task) -> int:
        own = task.spec.constraints.max_task_retry_count if task.spec.constraints else None
        if own is not None:
            return own
        job_level = job.spec.constraints.max_task_retry_count if job.spec.constraints else None
        return job_level or 0

    def _finish_attempt(
        self,
        job: _Job,
        task: _Task,
        exit_code: int | None,
        failure: dict[str, Any] | None,
        *,
        retriable: bool,
    ) -> None:
        task.exit_code, task.end_time = exit_code, time.time()
        limit = self._max_retries(job, task)
        if (
            failure is not None
            and retriable
            and job.state == "active"
            and (limit < 0 or task.retry_count < limit)
        ):
            task.retry_count += 1
            task.state, task.failure = "active", failure
            self._mark(task)
            job.ready.appendleft(task.spec.id)
            return
        task.state, task.failure = "completed", failure
        task.result = "success" if failure is None else "failure"
        self._mark(task)
        for dependent_id in job.dependents.pop(task.spec.id, []) if self._satisfies(task) else []:
            unmet = job.waiting.get(dependent_id)
            if unmet is None:
                continue
            unmet.discard(task.spec.id)
            if not unmet:
                del job.waiting[dependent_id]
                job.ready.append(dependent_id)
                self._wake.set()
        if job.state != "active":
            return
        if task.kind == "jobManager":
            manager = job.spec.job_manager_task
            if manager is not None and manager.kill_job_on_completion is not False:
                self._end_job(job, "JMComplete")
                return
        if failure is not None and job.spec.on_task_failure == "performExitOptionsJobAction":
            action = _exit_options(task.spec, exit_code, failure).get("jobAction", "terminate")
            if action == "terminate":
                self._end_job(job, "TaskFailed")
                return
        if (
            job.spec.on_all_tasks_complete == "terminateJob"
            and job.tasks
            and all(t.state == "completed" for t in job.tasks.values())
        ):
            self._end_job(job, "AllTasksComplete")

    # -- start task and job preparation ------------------------------------------------------------------
    def _run_start_task(self, pool: _Pool) -> None:
        start = pool.spec.start_task
        assert start is not None
        spec = TaskSpec(
            id="starttask",
            command_line=start.command_line,
            resource_files=start.resource_files,
            environment_settings=start.environment_settings,
        )
        pool.start_state = "running" if start.wait_for_success else "succeeded"
        self._store.put_pool(pool.spec.id, pool.spec.to_rest(), pool.state())
        task = _Task(job_id="", spec=spec, seq=-1, kind="startTask", pool_id=pool.spec.id)
        self._start(None, task, pool, pool.nodes[0], preempt=False)

    def _start_task_done(self, outcome: _Outcome) -> None:
        pool = self._pools.get(outcome.task.pool_id or "")
        start = pool.spec.start_task if pool is not None else None
        if pool is None or start is None:
            return
        if outcome.failure is None:
            pool.start_state = "succeeded"
        elif pool.start_retries < (start.max_task_retry_count or 0) or (start.max_task_retry_count or 0) < 0:
            pool.start_retries += 1
            pool.start_state = "pending"
        elif start.wait_for_success:
            pool.start_state = "failed"
        self._store.put_pool(pool.spec.id, pool.spec.to_rest(), pool.state())

    def _run_job_preparation(self, job: _Job, pool: _Pool, node: _Node) -> None:
        prep = job.spec.job_preparation_task
        assert prep is not None
        spec = TaskSpec(
            id=prep.id or "jobpreparation",
            command_line=prep.command_line,
            resource_files=prep.resource_files,
            environment_settings=prep.environment_settings,
            constraints=prep.constraints,
        )
        job.prep[node.node_id] = "running" if prep.wait_for_success is not False else "succeeded"
        task = _Task(job_id=job.spec.id, spec=spec, seq=-1, kind="jobPreparation")
        self._start(job, task, pool, node, preempt=False)

    def _prep_done(self, job: _Job, outcome: _Outcome) -> None:
        node_id = outcome.node.node_id if outcome.node is not None else None
        if node_id is None or job.prep.get(node_id) != "running":
            return
        job.prep[node_id] = "succeeded" if outcome.failure is None else "failed"
        self._store.put_job(job.spec.id, job.spec.to_rest(), job.state_json())
        self._wake.set()


_shared: dict[Path, LocalBatchService] = {}
_shared_lock = threading.Lock()


def shared_local_batch(
    state_dir: Path, *, storage_connection: str | None = None, max_slots: int | None = None
) -> LocalBatchService:
    """The process-wide executor for a state dir: activities come and go, the running tasks stay."""
    key = Path(state_dir).resolve()
    with _shared_lock:
        service = _shared.get(key)
        if service is None:
            service = LocalBatchService(key, storage_connection=storage_connection, max_slots=max_slots)
            _shared[key] = service
            # On exit, running tasks are stopped and recorded as running, so the next owner retries them.
            atexit.register(service.close)
        return service
