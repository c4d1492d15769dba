"""BatchService that really runs tasks on this machine, with Azure Batch's semantics.

A pool is a set of task slots (nodes x taskSlotsPerNode, capped by the machine). `add_tasks` returns at
once and callers poll `get_task_counts`, exactly as orchestrators poll Azure Batch, while the scheduler
(`scheduler.py`) starts the tasks as processes (`runner.py`). Everything is persisted in SQLite under the
state dir (`state.py`): a new owner after a crash adopts the attempts the previous one started (followed to
their end, or read from the exit code they left on disk) and requeues only those whose outcome went with
the host, as Batch requeues a lost node's tasks.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import random
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jobclusters.services.batch import (
    AddTasksResult,
    AutoPoolSpecification,
    BatchServiceError,
    FailedTask,
    JobSpec,
    OwnedPool,
    PoolPlacement,
    PoolRef,
    PoolSpec,
    TaskAddFailure,
    TaskCounts,
    TaskSpec,
    WorkSpan,
    pool_from_rest,
)
from jobclusters.services.blob_io import BlobIO
from jobclusters.services.local_batch.runner import ProcessRunner
from jobclusters.services.local_batch.scheduler import Scheduler
from jobclusters.services.local_batch.stand_in import is_stand_in, stand_in_pool
from jobclusters.services.local_batch.state import BatchState, Job, Pool, pool_nodes
from jobclusters.services.local_batch.store import LocalBatchStore


def _iso(ts: float | None) -> datetime | None:
    return datetime.fromtimestamp(ts, UTC) if ts is not None else None


class LocalBatchService:
    """The local Batch account of a state dir; one owner at a time (a file lock says who).

    Activities get the process's one executor per state dir from the factory (`shared_local_batch`).
    `clock` (seconds since the epoch) drives deadlines and the times tasks report; tests pass their own.
    """

    def __init__(
        self,
        state_dir: Path,
        *,
        storage_connection: str | None = None,
        max_slots: int | None = None,
        preempt_seed: int | None = None,
        max_requeues: int = 3,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._root = Path(state_dir).resolve() / "batch"
        self._root.mkdir(parents=True, exist_ok=True)
        self._lock_file = open(self._root / "owner.lock", "w")  # noqa: SIM115 - held for the object's life
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock_file.close()
            raise RuntimeError(f"another process owns the local Batch state in {self._root}") from None
        self._clock = clock
        self._max_slots = max_slots or max(2, (os.cpu_count() or 1) * 4)
        self._state = BatchState(LocalBatchStore(self._root / "batch.sqlite"), clock)
        self._runner = ProcessRunner(self._root, BlobIO(storage_connection), clock)
        self._scheduler = Scheduler(
            self._state,
            self._runner,
            clock=clock,
            rng=random.Random(preempt_seed),
            max_requeues=max_requeues,
        )
        self._lock = self._scheduler.lock
        self._scheduler.resume(self._state.recover(self._new_pool))
        self._scheduler.start()

    # -- lifecycle -------------------------------------------------------------------------------------
    @property
    def closed(self) -> bool:
        return self._scheduler.stopping

    def close(self) -> None:
        """Stop the scheduler and kill running processes; their tasks stay `running` in the state, so the
        next owner requeues them (killed, they left no outcome)."""
        if not self._scheduler.stop():
            return
        self._state.store.close()
        with contextlib.suppress(OSError):
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)
        self._lock_file.close()

    def __enter__(self) -> LocalBatchService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def sync(self, timeout: float = 10.0) -> None:
        """Return once the scheduler has made a full step after this call: whatever the state allowed to
        start by now has started, so a task still waiting is waiting for a reason (tests)."""
        if not self._scheduler.wait_step(timeout):
            raise TimeoutError(f"the local Batch scheduler made no step in {timeout}s")

    # -- pools -----------------------------------------------------------------------------------------
    def _new_pool(self, spec: PoolSpec) -> Pool:
        pool = pool_nodes(spec, self._max_slots)
        self._runner.prepare_nodes(pool)
        return pool

    def _add_pool(self, spec: PoolSpec, auto_job: str | None = None) -> Pool:
        pool = self._new_pool(spec)
        pool.auto_job = auto_job
        self._state.add_pool(pool)
        return pool

    def ensure_pool(self, placement: PoolPlacement, *, owner: str) -> PoolRef:
        with self._lock:
            if placement.mode == "existing":
                existing = self._state.pools.get(placement.pool_id or "")
                if existing is None and not (placement.stand_in_if_missing and placement.pool_id):
                    raise BatchServiceError("PoolNotFound", f"pool {placement.pool_id!r} does not exist", 404)
                if existing is None:
                    existing = self._add_pool(stand_in_pool(str(placement.pool_id)))
                    self._scheduler.wake()
                spec = existing.spec
                return PoolRef(
                    mode="existing",
                    pool_id=spec.id,
                    vm_size=spec.vm_size,
                    node_count=len(existing.nodes),
                    low_priority=any(n.spot for n in existing.nodes),
                    stand_in=is_stand_in(spec),
                )
            assert placement.pool is not None
            spec = placement.pool
            if placement.mode == "autoPool":
                body = spec.to_rest()
                body.pop("id", None)
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
            pool = self._state.pools.get(spec.id)
            if pool is None:
                pool = self._add_pool(spec.with_owner(owner))
                created = True
            else:
                created = pool.spec.owner() == owner
            self._scheduler.wake()
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
            self._scheduler.remove_pool(ref.pool_id)
        return True

    def list_owned_pools(self) -> list[OwnedPool]:
        with self._lock:
            specs = [pool.spec for pool in self._state.pools.values()]
        return [OwnedPool(pool_id=s.id, owner=owner) for s in specs if (owner := s.owner()) is not None]

    def get_pool_nodes(self, pool_id: str) -> int | None:
        with self._lock:
            pool = self._state.pools.get(pool_id)
            return None if pool is None else len(pool.nodes)

    # -- jobs ------------------------------------------------------------------------------------------
    def create_job(self, job: JobSpec) -> None:
        with self._lock:
            if job.id in self._state.jobs:
                return
            info = job.pool_info
            if info.auto_pool_specification is not None:
                prefix = info.auto_pool_specification.auto_pool_id_prefix or "auto"
                pool_id = f"{prefix}_{job.id}"[:64]
                if pool_id not in self._state.pools:
                    self._add_pool(
                        pool_from_rest({**info.auto_pool_specification.pool, "id": pool_id}),
                        auto_job=None if info.auto_pool_specification.keep_alive else job.id,
                    )
            else:
                assert info.pool_id is not None
                pool_id = info.pool_id
            state = Job(spec=job, pool_id=pool_id, created=self._clock())
            self._state.add_job(state)
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
                for task in self._state.insert_tasks(state, [spec], kind="jobManager"):
                    self._scheduler.register(state, task, front=True)
            self._scheduler.wake()

    def terminate_job(self, job_id: str) -> None:
        with self._lock:
            job = self._state.jobs.get(job_id)
            if job is not None:
                self._scheduler.end_job(job, "UserTerminate")

    def delete_job(self, job_id: str) -> None:
        with self._lock:
            job = self._state.jobs.get(job_id)
            if job is None:
                return
            self._scheduler.end_job(job, "UserTerminate")
            self._state.delete_job(job_id)
            self._runner.remove_job_dirs(job_id)

    def job_state(self, job_id: str) -> dict[str, Any]:
        """The job's `state` (active | completed) and `endReason` (for logs and tests)."""
        with self._lock:
            job = self._state.jobs.get(job_id)
            if job is None:
                raise BatchServiceError("JobNotFound", f"job {job_id!r} does not exist", 404)
            return job.state_json()

    # -- tasks -----------------------------------------------------------------------------------------
    def add_tasks(self, job_id: str, tasks: Sequence[TaskSpec]) -> AddTasksResult:
        ids = [t.id for t in tasks]
        if len(set(ids)) != len(ids):
            raise ValueError("task ids must be unique within one add_tasks call")
        with self._lock:
            job = self._state.jobs.get(job_id)
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
            for task in self._state.insert_tasks(job, new, kind="task"):
                self._scheduler.register(job, task)
            self._scheduler.wake()
            return result

    def get_task_counts(self, job_id: str) -> TaskCounts:
        with self._lock:
            job = self._state.jobs.get(job_id)
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

    def when_job_done(self, job_id: str, notify: Callable[[], None]) -> None:
        """`notify` (which must not block) once every task of the job has completed; at once if it has
        or the job is gone. The orchestrator waiting for the job wakes on it instead of its next poll."""
        with self._lock:
            job = self._state.jobs.get(job_id)
            if job is not None:
                self._scheduler.watch(job, notify)
                return
        notify()

    def list_failed_tasks(self, job_id: str) -> list[FailedTask]:
        with self._lock:
            job = self._state.jobs.get(job_id)
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

    def get_work_span(self, job_id: str) -> WorkSpan:
        with self._lock:
            job = self._state.jobs.get(job_id)
            if job is None:
                raise BatchServiceError("JobNotFound", f"job {job_id!r} does not exist", 404)
            return WorkSpan.of(
                (_iso(t.start_time), _iso(t.end_time) if t.state == "completed" else None)
                for t in job.tasks.values()
                if t.kind in ("task", "jobManager")
            )

    def task_dir(self, job_id: str, task_id: str) -> Path | None:
        """Where a task's stdout.txt / stderr.txt and `wd/` live on this machine (for logs and tests)."""
        with self._lock:
            job = self._state.jobs.get(job_id)
            task = job.tasks.get(task_id) if job is not None else None
            return Path(task.task_dir) if task is not None and task.task_dir else None

    def task_state(self, job_id: str, task_id: str) -> dict[str, Any]:
        with self._lock:
            return dict(self._state.jobs[job_id].tasks[task_id].runtime())
