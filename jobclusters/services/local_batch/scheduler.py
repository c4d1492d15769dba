"""The local Batch scheduler: which task runs where and when, and what each outcome means, as on Batch.

One thread makes a scheduling step per wake-up (apply outcomes, enforce deadlines, start what fits);
worker threads run one task each and, when it ends, claim the next ready task for the slot they freed, so
a busy pool never waits for a scheduler round trip. Workers never hold the lock while a process runs:
they hand results over under the lock, and starts through a deque the scheduler persists.

Deadlines (job and task `maxWallClockTime`) are read from the injected clock, so tests move time instead
of waiting for it. Where Batch would leave tasks waiting forever on a node that cannot start (failed start
task or job preparation task with `waitForSuccess`), the tasks fail with that code, so a run always ends.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from jobclusters.services.batch import BatchSpecError, TaskConstraints, TaskSpec
from jobclusters.services.local_batch.runner import Attempt, Launch, Outcome, ProcessRunner
from jobclusters.services.local_batch.state import (
    BatchState,
    Job,
    Node,
    Pool,
    Task,
    dependencies,
    exit_options,
    failure,
    satisfies,
)

log = logging.getLogger(__name__)
_FLUSH_EVERY = 0.1


class Scheduler:
    def __init__(
        self,
        state: BatchState,
        runner: ProcessRunner,
        *,
        clock: Callable[[], float],
        rng: random.Random,
        max_requeues: int,
    ) -> None:
        self.state = state
        self._runner = runner
        self._clock = clock
        self._rng = rng
        self._max_requeues = max_requeues
        self.lock = threading.RLock()
        self._wake = threading.Event()
        self._outcomes: deque[Outcome] = deque()
        self._started: deque[Task] = deque()
        self._deadlines: dict[int, tuple[float, Task]] = {}  # id(task) -> (maxWallClockTime end, task)
        self._workers: dict[str, int] = {}  # pool id -> tasks whose worker has not handed its outcome over
        self._deleted: set[str] = set()  # pools whose folders go once their last worker is done
        self._begun = self._ended = 0  # scheduling steps, for `wait_step`
        self._watchers: dict[str, list[Callable[[], None]]] = {}  # job id -> called once all tasks ended
        self._stepped = threading.Condition()
        self.stopping = False
        self._thread = threading.Thread(target=self._loop, name="local-batch-scheduler", daemon=True)

    # -- lifecycle -------------------------------------------------------------------------------------
    def resume(self, unfinished: list[tuple[Job, Task]]) -> None:
        """Take over the tasks a previous owner left. An attempt it started (its files are on disk, even
        when the claim was not yet saved) is adopted: still running, it is followed to its end; ended,
        its exit code is its outcome. An attempt with no trace of an outcome went with the host and is
        requeued, as Batch requeues a lost node's tasks; the other active tasks queue again."""
        with self.lock:
            adopted = requeued = 0
            for job, task in unfinished:
                found = self._runner.find_attempt(job.spec.id, task)
                if found is not None:
                    pool = self.state.pools.get(found.pool_id)
                    nodes = pool.nodes if pool is not None else []
                    node = next((n for n in nodes if n.node_id == found.node_id), None)
                    if pool is not None and node is not None:
                        self._adopt(job, task, pool, node, found)
                        adopted += 1
                        continue
                if task.state == "running":
                    task.state, task.node_id, task.pgid = "active", None, None
                    task.requeue_count += 1
                    self.state.mark(task)
                    requeued += 1
                self.register(job, task, front=task.requeue_count > 0)
            if adopted or requeued:
                log.warning(
                    "local batch: took over from the previous owner: %d attempt(s) adopted, %d requeued",
                    adopted,
                    requeued,
                )
            self.state.flush()

    def _adopt(self, job: Job, task: Task, pool: Pool, node: Node, found: Attempt) -> None:
        node.free -= task.spec.required_slots or 1
        task.state, task.node_id, task.pool_id = "running", node.node_id, pool.spec.id
        task.task_dir, task.pgid, task.kill_reason = found.task_dir, found.pgid, None
        task.start_time = task.start_time or self._clock()
        task.first_start = task.first_start or task.start_time
        limit = task.spec.constraints.max_wall_clock_time if task.spec.constraints else None
        if limit is not None:
            self._deadlines[id(task)] = (task.first_start + limit.total_seconds(), task)
        self.state.mark(task)

        def follow() -> None:
            try:
                outcome = self._runner.adopt(task, found.task_dir, found.task_dir + "/wd", found.pgid)
            except Exception as exc:  # never let a worker thread die silently
                log.exception("local batch task %s could not be adopted", task.spec.id)
                outcome = Outcome(
                    task, None, failure("ServerError", "ExecutorError", f"{type(exc).__name__}: {exc}")
                )
            outcome.node = node
            with self.lock:
                self._apply_outcome(outcome)
            self._wake.set()

        threading.Thread(target=follow, name="batch-task-adopted", daemon=True).start()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> bool:
        """Stop scheduling and kill running processes; their tasks stay `running` in the state, and the
        next owner requeues them (killed, they left no outcome). False if already stopped."""
        with self.lock:
            if self.stopping:
                return False
            self.stopping = True
            self._wake.set()
        self._runner.stop()
        with self._stepped:
            self._stepped.notify_all()
        self._thread.join(timeout=10)
        with self.lock:
            while self._started:
                self.state.mark(self._started.popleft())
            self.state.flush()
        return True

    def wake(self) -> None:
        self._wake.set()

    def wait_step(self, timeout: float) -> bool:
        """Wait until a scheduling step that began after this call has ended; False on timeout."""
        with self._stepped:
            target = self._begun + 1
            self._wake.set()
            return self._stepped.wait_for(lambda: self._ended >= target or self.stopping, timeout=timeout)

    # -- the scheduling loop ---------------------------------------------------------------------------
    def _loop(self) -> None:
        """One scheduling step per wake-up; state is written outside the lock, at most every 100 ms."""
        last_flush = 0.0
        while True:
            rows: list[tuple[str, str, dict[str, Any]]] = []
            self._wake.clear()
            with self._stepped:
                self._begun += 1
            with self.lock:
                if self.stopping:
                    return
                while self._started:
                    self.state.mark(self._started.popleft())
                try:
                    self._apply_outcomes()
                    self._check_deadlines()
                    self._schedule()
                except Exception:
                    log.exception("local batch scheduler step failed")
                busy = self._runner.busy
                now = time.monotonic()
                if self.state.dirty and (now - last_flush >= _FLUSH_EVERY or not busy):
                    rows, last_flush = self.state.take_dirty(), now
                idle = 0.1 if self.state.dirty or busy or self._started else 0.5
                idle = min(idle, self._until_next_deadline())
            if rows:
                self.state.store.update_tasks(rows)
            with self._stepped:
                self._ended += 1
                self._stepped.notify_all()
            if not self._outcomes:
                self._wake.wait(timeout=idle)

    def _apply_outcomes(self) -> None:
        while self._outcomes:
            self._apply_outcome(self._outcomes.popleft())

    def _check_deadlines(self) -> None:
        now = self._clock()
        for job in self.state.jobs.values():
            limit = job.spec.constraints.max_wall_clock_time if job.spec.constraints else None
            if job.state == "active" and limit is not None and now - job.created > limit.total_seconds():
                self.end_job(job, "MaxWallClockTimeExpiry")
        for deadline, task in list(self._deadlines.values()):
            if now >= deadline and task.state == "running" and task.kill_reason is None:
                task.kill_reason = "timeout"
                self._runner.kill(task)

    def _until_next_deadline(self) -> float:
        """Seconds until the next task `maxWallClockTime` ends, so the kill is not late by a wake-up."""
        pending = [d for d, task in self._deadlines.values() if task.kill_reason is None]
        return max(0.0, min(pending) - self._clock()) if pending else float("inf")

    def _schedule(self) -> None:
        for candidate in list(self.state.pools.values()):
            if candidate.start_state == "pending" and candidate.nodes:
                self._run_start_task(candidate)
        for job in list(self.state.jobs.values()):
            if job.state != "active" or not job.ready:
                continue
            pool = self.state.pools.get(job.pool_id)
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

    def _preempts(self, pool: Pool, node: Node, task: Task) -> bool:
        return (
            node.spot
            and pool.preempt_fraction > 0
            and task.requeue_count < self._max_requeues
            and self._rng.random() < pool.preempt_fraction
        )

    def _next_launch(self, pool_id: str, node: Node) -> Launch | None:
        """Under the lock: the next ready task that fits on `node`, claimed for the worker that just
        freed a slot there, so a busy pool never waits for a scheduler round trip between tasks."""
        pool = self.state.pools.get(pool_id)
        if pool is None or pool.start_state in ("pending", "running", "failed") or node not in pool.nodes:
            return None
        for job in self.state.jobs.values():
            if job.state != "active" or job.pool_id != pool_id or not _prepared(job, node):
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

    def _fail_ready(self, job: Job, code: str, message: str) -> None:
        while job.ready:
            task = job.tasks.get(job.ready.popleft())
            if task is not None and task.state == "active":
                self.finish_attempt(job, task, None, failure("UserError", code, message), retriable=False)

    @staticmethod
    def _pick_node(pool: Pool, slots: int, job: Job) -> Node | None:
        fill = (pool.spec.task_scheduling_policy or {}).get("nodeFillType", "spread")
        candidates = [n for n in pool.nodes if n.free >= slots and _prepared(job, n)]
        if not candidates:
            return None
        if fill == "pack":
            return candidates[0]
        return max(candidates, key=lambda n: n.free)

    # -- starting tasks ----------------------------------------------------------------------------------
    def _start(self, job: Job | None, task: Task, pool: Pool, node: Node, *, preempt: bool) -> None:
        launch = self._claim(job, task, pool, node, preempt=preempt)
        if launch is not None:
            thread = threading.Thread(target=self._worker, args=(launch,), name="batch-task", daemon=True)
            thread.start()

    def _claim(self, job: Job | None, task: Task, pool: Pool, node: Node, *, preempt: bool) -> Launch | None:
        task_dir = self._runner.task_dir(job, task, pool, node)
        wd = task_dir + "/wd"
        node.free -= task.spec.required_slots or 1
        now = self._clock()
        task.state, task.node_id, task.pool_id = "running", node.node_id, pool.spec.id
        task.start_time, task.end_time, task.task_dir, task.kill_reason = now, None, task_dir, None
        task.first_start = task.first_start or now
        limit = task.spec.constraints.max_wall_clock_time if task.spec.constraints else None
        if limit is not None:
            self._deadlines[id(task)] = (task.first_start + limit.total_seconds(), task)
        self.state.mark(task)
        try:
            env = self._runner.env(pool, node, job, task, task_dir, wd)
        except BatchSpecError as exc:
            self._outcomes.append(
                Outcome(task, None, failure("UserError", "InvalidEnvironment", str(exc)), node=node)
            )
            self._wake.set()
            return None
        self._workers[pool.spec.id] = self._workers.get(pool.spec.id, 0) + 1
        return Launch(task, pool.spec.id, node, task_dir, wd, env, preempt)

    def _worker(self, launch: Launch | None) -> None:
        """Run a task, record its outcome, and go on with the next ready task for the same slot."""
        while launch is not None:
            task = launch.task
            try:
                outcome = self._runner.run(launch, self._started.append)
            except Exception as exc:  # never let a worker thread die silently
                log.exception("local batch task %s failed to run", task.spec.id)
                outcome = Outcome(
                    task, None, failure("ServerError", "ExecutorError", f"{type(exc).__name__}: {exc}")
                )
            outcome.node = launch.node
            with self.lock:
                self._apply_outcome(outcome)
                self._worker_done(launch.pool_id)
                launch = None if self.stopping else self._next_launch(launch.pool_id, launch.node)
            if launch is None:
                self._wake.set()

    # -- outcomes ----------------------------------------------------------------------------------------
    def _apply_outcome(self, outcome: Outcome) -> None:
        task = outcome.task
        if outcome.node is not None:
            outcome.node.free += task.spec.required_slots or 1
        task.pgid = None
        if self._deadlines:
            self._deadlines.pop(id(task), None)
        if task.kind == "startTask":
            self._start_task_done(outcome)
            return
        job = self.state.jobs.get(task.job_id)
        if job is None:
            return
        if task.kind == "jobPreparation":
            self._prep_done(job, outcome)
            return
        if task.kind == "jobRelease":
            return
        if outcome.preempted:
            task.state, task.requeue_count, task.node_id = "active", task.requeue_count + 1, None
            self.state.mark(task)
            if job.state == "active":
                job.ready.appendleft(task.spec.id)
            self._wake.set()
            return
        retriable = not outcome.timed_out and task.kill_reason != "terminate"
        task.start_time = outcome.started or task.start_time
        self.finish_attempt(
            job, task, outcome.exit_code, outcome.failure, retriable=retriable, ended=outcome.ended
        )

    @staticmethod
    def _max_retries(job: Job, task: Task) -> int:
        own = task.spec.constraints.max_task_retry_count if task.spec.constraints else None
        if own is not None:
            return own
        job_level = job.spec.constraints.max_task_retry_count if job.spec.constraints else None
        return job_level or 0

    def finish_attempt(
        self,
        job: Job,
        task: Task,
        exit_code: int | None,
        failed: dict[str, Any] | None,
        *,
        retriable: bool,
        ended: float | None = None,
    ) -> None:
        """An attempt ended: retry it while retries remain, else complete the task and let the job react.
        `ended` is when its process ended, if one ran (`executionInfo.endTime` is the work's, not ours)."""
        task.exit_code, task.end_time = exit_code, ended or self._clock()
        limit = self._max_retries(job, task)
        if (
            failed is not None
            and retriable
            and job.state == "active"
            and (limit < 0 or task.retry_count < limit)
        ):
            task.retry_count += 1
            task.state, task.failure = "active", failed
            self.state.mark(task)
            job.ready.appendleft(task.spec.id)
            return
        task.state, task.failure = "completed", failed
        task.result = "success" if failed is None else "failure"
        self.state.mark(task)
        if job.spec.id in self._watchers and work_done(job):
            for notify in self._watchers.pop(job.spec.id):
                notify()
        for dependent_id in job.dependents.pop(task.spec.id, []) if satisfies(task) else []:
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
                self.end_job(job, "JMComplete")
                return
        if failed is not None and job.spec.on_task_failure == "performExitOptionsJobAction":
            action = exit_options(task.spec, exit_code, failed).get("jobAction", "terminate")
            if action == "terminate":
                self.end_job(job, "TaskFailed")
                return
        if (
            job.spec.on_all_tasks_complete == "terminateJob"
            and job.tasks
            and all(t.state == "completed" for t in job.tasks.values())
        ):
            self.end_job(job, "AllTasksComplete")

    # -- changes the service asks for (under the lock) -----------------------------------------------------
    def watch(self, job: Job, notify: Callable[[], None]) -> None:
        """`notify` (which must not block) once every task of `job` has completed: at once if it has."""
        if work_done(job):
            notify()
        else:
            waiting = self._watchers.setdefault(job.spec.id, [])
            if notify not in waiting:  # a poll re-arms the same signal
                waiting.append(notify)

    def register(self, job: Job, task: Task, *, front: bool = False) -> None:
        """Queue an active task: ready when its dependencies are satisfied, else waiting for them."""
        unmet = {d for d in dependencies(task.spec) if not satisfies(job.tasks.get(d))}
        if unmet:
            job.waiting[task.spec.id] = unmet
            for dep in unmet:
                job.dependents.setdefault(dep, []).append(task.spec.id)
        elif front:
            job.ready.appendleft(task.spec.id)
        else:
            job.ready.append(task.spec.id)

    def end_job(self, job: Job, reason: str) -> None:
        """Complete the job: kill its running tasks, run its release task, drop its autopool."""
        if job.state == "completed":
            return
        job.state = "completed"
        job.end_reason = reason
        for task in job.tasks.values():
            if task.state == "running":
                task.kill_reason = "terminate"
                self._runner.kill(task)
        self.state.save_job(job)
        release = job.spec.job_release_task
        pool = self.state.pools.get(job.pool_id)
        if release is not None and pool is not None and pool.nodes:
            spec = TaskSpec(
                id=release.id or "jobrelease",
                command_line=release.command_line,
                resource_files=release.resource_files,
                environment_settings=release.environment_settings,
                constraints=TaskConstraints(max_wall_clock_time=release.max_wall_clock_time),
            )
            task = Task(job_id=job.spec.id, spec=spec, seq=-1, kind="jobRelease")
            self._start(job, task, pool, pool.nodes[0], preempt=False)
        if pool is not None and pool.auto_job == job.spec.id:
            self.remove_pool(pool.spec.id)

    def remove_pool(self, pool_id: str) -> None:
        """Delete the pool; tasks running on it go back to the queue, as when Batch loses their node.

        Its folders go once every task that ran there has ended and uploaded its output files (its logs
        among them): a task already ended by a terminate keeps that reason rather than being requeued."""
        pool = self.state.remove_pool(pool_id)
        if pool is None:
            return
        for job in self.state.jobs.values():
            for task in job.tasks.values():
                if task.state == "running" and task.pool_id == pool_id:
                    task.kill_reason = task.kill_reason or "requeue"
                    self._runner.kill(task)
        self._deleted.add(pool_id)
        self._worker_done(pool_id, ended=0)

    def _worker_done(self, pool_id: str, *, ended: int = 1) -> None:
        left = self._workers.get(pool_id, 0) - ended
        if left > 0:
            self._workers[pool_id] = left
            return
        self._workers.pop(pool_id, None)
        if pool_id in self._deleted:
            self._deleted.discard(pool_id)
            self._runner.remove_pool_dirs(pool_id)

    # -- start task and job preparation ------------------------------------------------------------------
    def _run_start_task(self, pool: Pool) -> None:
        start = pool.spec.start_task
        assert start is not None
        spec = TaskSpec(
            id="starttask",
            command_line=start.command_line,
            resource_files=start.resource_files,
            environment_settings=start.environment_settings,
        )
        pool.start_state = "running" if start.wait_for_success else "succeeded"
        self.state.save_pool(pool)
        task = Task(job_id="", spec=spec, seq=-1, kind="startTask", pool_id=pool.spec.id)
        self._start(None, task, pool, pool.nodes[0], preempt=False)

    def _start_task_done(self, outcome: Outcome) -> None:
        pool = self.state.pools.get(outcome.task.pool_id or "")
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
        self.state.save_pool(pool)

    def _run_job_preparation(self, job: Job, pool: Pool, node: Node) -> None:
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
        task = Task(job_id=job.spec.id, spec=spec, seq=-1, kind="jobPreparation")
        self._start(job, task, pool, node, preempt=False)

    def _prep_done(self, job: Job, outcome: Outcome) -> None:
        node_id = outcome.node.node_id if outcome.node is not None else None
        if node_id is None or job.prep.get(node_id) != "running":
            return
        job.prep[node_id] = "succeeded" if outcome.failure is None else "failed"
        self.state.save_job(job)
        self._wake.set()


def _prepared(job: Job, node: Node) -> bool:
    return job.spec.job_preparation_task is None or job.prep.get(node.node_id) == "succeeded"


def work_done(job: Job) -> bool:
    """Every task of the job (not its preparation or release) has completed, as the task counts say."""
    tasks = [t for t in job.tasks.values() if t.kind in ("task", "jobManager")]
    return bool(tasks) and all(t.state == "completed" for t in tasks)
