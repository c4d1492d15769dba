"""A cluster on this machine: each task runs as a subprocess with a real local-mode SparkSession.

`submit` writes the run folder and returns; a long-lived service object owns a small thread pool that runs
the tasks in dependency order (one at a time per run). Everything a poller needs is in files under the
state dir (`<state_dir>/local-cluster/<run_id>/`): `state.json`, per-task logs, `result.json`, task values.
So another process (or a later service object) can read state and output, and ask for a cancel through a
marker file. A run whose owning process died is adopted by the next service object that reads it: tasks
that ended keep their result, the task whose process outlived the owner is followed to its end (its
`result.json` says how it went), one that died with the owner without a result runs again, and the rest of
the run goes on. So a host crash neither fails nor repeats work that completed.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jobclusters.localshim.paths import PathMapper, parse_adls
from jobclusters.localshim.session import LOCAL_DEFAULTS, pyspark_available
from jobclusters.localshim.warm import JOB_GROUP_ENV
from jobclusters.processes import pid_alive
from jobclusters.services.cluster import (
    LOG_TAIL_CHARS,
    Backend,
    ClusterInfo,
    ClusterRunRequest,
    InvalidRunRequest,
    LifeCycle,
    ResultState,
    RunHandle,
    RunNotFound,
    RunOutput,
    RunState,
    TaskOutput,
    TaskRunState,
    tail,
)
from jobclusters.services.local_cluster_plan import LaunchPlan, Planner, default_cores
from jobclusters.services.local_cluster_warm import WarmDriver, WarmDrivers

log = logging.getLogger(__name__)
PROJECT_ROOT = Path(__file__).resolve().parents[2]
KILL_GRACE_SECONDS = 3.0
POLL_SECONDS = 0.05
# Characters of a failed task's last output line used as its message.
_LAST_LINE_CHARS = 500


def _now() -> datetime:
    return datetime.now(tz=UTC)


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.{threading.get_ident()}.tmp")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, path)


def kill_process_group(proc: subprocess.Popen[bytes], grace: float = KILL_GRACE_SECONDS) -> None:
    """SIGTERM the task's whole process group (the job, its Spark JVM, Python workers), then SIGKILL."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=grace)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _topological(request: ClusterRunRequest) -> list[str]:
    order: list[str] = []
    pending = {t.task_key: set(t.depends_on) for t in request.tasks}
    while pending:
        ready = [key for key, deps in pending.items() if deps <= set(order)]
        if not ready:
            raise InvalidRunRequest(f"tasks depend on each other in a cycle: {sorted(pending)}", "$.tasks")
        for key in ready:
            order.append(key)
            del pending[key]
    return order


class _RunFiles:
    def __init__(self, root: Path, run_id: str) -> None:
        self.dir = root / run_id
        self.request = self.dir / "request.json"
        self.state = self.dir / "state.json"
        self.cancel = self.dir / "cancel-requested"
        self.claim = self.dir / "claim"

    def task_dir(self, task_key: str) -> Path:
        return self.dir / "tasks" / task_key

    def read_state(self) -> dict[str, Any]:
        return json.loads(self.state.read_text())


class LocalClusterJobService:
    backend: Backend = "local"

    def __init__(
        self,
        state_dir: Path,
        *,
        workspace_dir: Path | None = None,
        python: str = sys.executable,
        storage_connection: str | None = None,
        max_parallel_runs: int = 2,
        max_local_cores: int | None = None,
        log_tail_chars: int = LOG_TAIL_CHARS,
    ) -> None:
        self.root = Path(state_dir) / "local-cluster"
        self.root.mkdir(parents=True, exist_ok=True)
        self.workspace_dir = Path(workspace_dir) if workspace_dir else Path(state_dir) / "workspace"
        self.python = python
        self.storage_connection = storage_connection
        self.cores = max_local_cores or default_cores()
        self.log_tail_chars = log_tail_chars
        self._slots = threading.BoundedSemaphore(max_parallel_runs)
        self._threads: dict[str, threading.Thread] = {}
        _LIVE_SERVICES.add(self)
        self._lock = threading.Lock()
        self._cancel_events: dict[str, threading.Event] = {}
        self._end_watchers: dict[str, list[Callable[[], None]]] = {}
        self._warm = WarmDrivers(self.root / "warm", python)
        self._warm_ok = python != sys.executable or pyspark_available()

    @classmethod
    def from_settings(cls, settings: Any) -> LocalClusterJobService:
        connection = settings.storage_connection.get_secret_value()
        return cls(Path(settings.state_dir), storage_connection=connection)

    def close(self, wait: bool = True, timeout: float = 30.0) -> None:
        """`wait`: let running runs finish; else cancel them (their process groups are killed)."""
        if not wait:
            for event in self._cancel_events.values():
                event.set()
        end = time.monotonic() + timeout
        for thread in list(self._threads.values()):
            thread.join(max(0.0, end - time.monotonic()))
        self._warm.close()

    # ------------------------------------------------------------------------------------------ submit

    def _run_id(self, idempotency_key: str) -> str:
        return "local-" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:20]

    def _fetch_blob(self, value: str, mapper: PathMapper) -> None:
        """An `abfss://` job file missing from the workspace comes from the storage account (Azurite)."""
        location = parse_adls(value)
        if location is None or not self.storage_connection or mapper.map(value).exists():
            return
        from azure.core.exceptions import ResourceNotFoundError
        from azure.storage.blob import BlobServiceClient

        client = BlobServiceClient.from_connection_string(self.storage_connection)
        blob = client.get_blob_client(location.container, location.path)
        try:
            data = blob.download_blob().readall()
        except ResourceNotFoundError:
            return
        target = mapper.map(value)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)

    def _plans(self, request: ClusterRunRequest, mapper: PathMapper) -> dict[str, LaunchPlan]:
        for task in request.tasks:
            for value in _job_files(task):
                self._fetch_blob(value, mapper)
        planner = Planner(mapper, self.cores, check_libraries=self.python == sys.executable)
        return {t.task_key: planner.plan(request, i, t) for i, t in enumerate(request.tasks)}

    def submit(self, request: ClusterRunRequest, idempotency_key: str) -> RunHandle:
        run_id = self._run_id(idempotency_key)
        files = _RunFiles(self.root, run_id)
        handle = RunHandle(backend="local", run_id=run_id, idempotency_key=idempotency_key)
        with self._lock:
            if files.state.exists():
                return self._existing(handle, files)
            base_dir = Path(request.base_dir).resolve() if request.base_dir else Path.cwd()
            mapper = PathMapper(self.workspace_dir, base_dir)
            order = _topological(request)
            plans = self._plans(request, mapper)
            files.dir.mkdir(parents=True, exist_ok=True)
            try:  # the claim: another process submitting the same key at once gets the same run
                files.claim.open("x").close()
            except FileExistsError:
                return self._existing(handle, files)
            _write_json(files.request, request.model_dump(mode="json"))
            state = RunState(
                run_id=run_id,
                life_cycle=LifeCycle.PENDING,
                cluster=ClusterInfo(cluster_id="local", spark_master=plans[order[0]].master),
                tasks=[
                    TaskRunState(task_key=key, task_run_id=f"{run_id}:{key}", life_cycle=LifeCycle.PENDING)
                    for key in order
                ],
            )
            self._save(files, state)
            event = threading.Event()
            self._cancel_events[run_id] = event
        # Daemon threads, so a host that exits is not held by a running job: `_stop_all` cancels them first.
        thread = threading.Thread(
            target=self._execute_in_slot,
            args=(request, files, plans, order, base_dir, event),
            name=f"local-cluster-{run_id}",
            daemon=True,
        )
        self._threads[run_id] = thread
        thread.start()
        return handle.model_copy(update={"task_run_ids": {k: f"{run_id}:{k}" for k in order}})

    def _existing(self, handle: RunHandle, files: _RunFiles) -> RunHandle:
        for _ in range(100):  # a claim just made by another process: its state file follows at once
            if files.state.exists():
                state = RunState.model_validate(files.read_state()["state"])
                ids = {t.task_key: t.task_run_id or "" for t in state.tasks}
                return handle.model_copy(update={"task_run_ids": ids})
            time.sleep(0.05)
        return handle

    def _save(self, files: _RunFiles, state: RunState) -> None:
        _write_json(files.state, {"owner_pid": os.getpid(), "state": state.model_dump(mode="json")})

    # ------------------------------------------------------------------------------------------ execute

    def _execute_in_slot(self, *args: Any) -> None:
        files: _RunFiles = args[1]
        try:
            with self._slots:
                self._execute(*args)
        finally:
            self._ended(files.dir.name)

    def _ended(self, run_id: str) -> None:
        with self._lock:
            self._threads.pop(run_id, None)
            watchers = self._end_watchers.pop(run_id, [])
        for notify in watchers:
            notify()

    def when_run_ends(self, run_id: str, notify: Callable[[], None]) -> None:
        """`notify` (which must not block) once the run has ended, at once if it is not running here:
        the orchestrator waiting for it wakes on it instead of its next poll."""
        with self._lock:
            thread = self._threads.get(run_id)
            if thread is not None and thread.is_alive():
                waiting = self._end_watchers.setdefault(run_id, [])
                if notify not in waiting:
                    waiting.append(notify)
                return
        notify()

    def _execute(
        self,
        request: ClusterRunRequest,
        files: _RunFiles,
        plans: dict[str, LaunchPlan],
        order: list[str],
        base_dir: Path,
        cancel: threading.Event,
    ) -> None:
        state = RunState.model_validate(files.read_state()["state"])
        try:
            self._run_tasks(request, files, plans, order, base_dir, cancel, state)
        except Exception as exc:
            log.exception("local cluster run %s failed to execute", state.run_id)
            state.life_cycle, state.result = LifeCycle.TERMINATED, ResultState.FAILED
            state.message = f"the local cluster could not run this: {type(exc).__name__}: {exc}"
            state.end_time = _now()
            self._save(files, state)

    def _run_tasks(
        self,
        request: ClusterRunRequest,
        files: _RunFiles,
        plans: dict[str, LaunchPlan],
        order: list[str],
        base_dir: Path,
        cancel: threading.Event,
        state: RunState,
    ) -> None:
        state.life_cycle = LifeCycle.RUNNING
        state.start_time = state.start_time or _now()
        self._save(files, state)
        deadline = time.monotonic() + request.timeout_seconds if request.timeout_seconds else None
        results: dict[str, ResultState] = {}
        for index, key in enumerate(order):
            task_state = state.tasks[index]
            task = request.task(key)
            if task_state.life_cycle is LifeCycle.TERMINATED and task_state.result is not None:
                results[key] = task_state.result  # ended under a previous owner
                continue
            blocked = [d for d in task.depends_on if results.get(d) is not ResultState.SUCCESS]
            if cancel.is_set() or files.cancel.exists():
                results[key] = ResultState.CANCELED
                task_state.message = "canceled before it started"
            elif blocked:
                upstream = results[blocked[0]]
                results[key] = (
                    ResultState.CANCELED if upstream is ResultState.CANCELED else ResultState.FAILED
                )
                task_state.message = f"upstream task {blocked[0]} ended {upstream.value}"
            else:
                task_deadline = deadline
                if task.timeout_seconds:
                    own = time.monotonic() + task.timeout_seconds
                    task_deadline = own if task_deadline is None else min(own, task_deadline)
                followed = None
                if task_state.life_cycle in (LifeCycle.RUNNING, LifeCycle.TERMINATING):
                    followed = self._follow(files, cancel, state, index, task_deadline)
                results[key] = followed or self._run_one(
                    plans[key], files, base_dir, cancel, state, index, task_deadline
                )
                continue
            task_state.life_cycle, task_state.result = LifeCycle.TERMINATED, results[key]
            task_state.end_time = _now()
            self._save(files, state)
        self._finish(state, results)
        self._save(files, state)

    def _finish(self, state: RunState, results: dict[str, ResultState]) -> None:
        """The run's times become its task processes' (first start, last end), as a service reports a
        run's own times and not when it prepared or cleaned up."""
        state.life_cycle = LifeCycle.TERMINATED
        starts = [t.start_time for t in state.tasks if t.start_time is not None]
        ends = [t.end_time for t in state.tasks if t.end_time is not None]
        state.start_time = min(starts, default=state.start_time)
        state.end_time = max(ends, default=None) or _now()
        worst = next(
            (
                r
                for r in (ResultState.CANCELED, ResultState.TIMEDOUT, ResultState.FAILED)
                if r in results.values()
            ),
            ResultState.SUCCESS,
        )
        state.result = worst
        failed = [t for t in state.tasks if t.result is not ResultState.SUCCESS]
        if failed:
            state.message = "; ".join(
                f"{t.task_key}: {t.result.value if t.result else '?'}: {t.message}" for t in failed
            )
        else:
            state.message = "all tasks succeeded"

    def _run_one(
        self,
        plan: LaunchPlan,
        files: _RunFiles,
        base_dir: Path,
        cancel: threading.Event,
        state: RunState,
        index: int,
        deadline: float | None,
    ) -> ResultState:
        task_state = state.tasks[index]
        task_dir = files.task_dir(plan.task_key)
        task_dir.mkdir(parents=True, exist_ok=True)
        result_file = task_dir / "result.json"
        spec_file = task_dir / "task.json"
        _write_json(spec_file, plan.task_file(files.dir, self.workspace_dir, base_dir, result_file))
        env = self._env(plan)
        driver = None
        if plan.warm is not None and self._warm_ok:
            driver_conf = {**LOCAL_DEFAULTS, **plan.cluster_conf}
            driver = self._warm.acquire(plan.warm, plan.master, driver_conf, env)
            env.update(driver.task_env(task_state.task_run_id or f"{state.run_id}:{plan.task_key}"))
        try:
            return self._run_process(plan, files, base_dir, cancel, state, index, deadline, env, driver)
        finally:
            if driver is not None:
                self._warm.release(driver)

    def _run_process(
        self,
        plan: LaunchPlan,
        files: _RunFiles,
        base_dir: Path,
        cancel: threading.Event,
        state: RunState,
        index: int,
        deadline: float | None,
        env: dict[str, str],
        driver: WarmDriver | None,
    ) -> ResultState:
        task_state = state.tasks[index]
        task_dir = files.task_dir(plan.task_key)
        result_file = task_dir / "result.json"
        spec_file = task_dir / "task.json"
        stdout = open(task_dir / "stdout.log", "wb")  # noqa: SIM115 - handed to the child, closed below
        stderr = open(task_dir / "stderr.log", "wb")  # noqa: SIM115
        for note in plan.notes:
            stderr.write(f"[local cluster] {note}\n".encode())
        stderr.flush()
        task_state.life_cycle = LifeCycle.RUNNING
        task_state.start_time = _now()
        task_state.cluster = ClusterInfo(
            cluster_id="local", spark_master=plan.master, num_workers=plan.num_workers
        )
        try:
            proc = subprocess.Popen(
                [self.python, "-m", "jobclusters.localshim.run", str(spec_file)],
                cwd=base_dir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
                start_new_session=True,
            )
        finally:
            stdout.close()
            stderr.close()
        _write_json(task_dir / "pid", {"pid": proc.pid})
        self._save(files, state)
        outcome: ResultState | None = None
        while proc.poll() is None:
            if cancel.is_set() or files.cancel.exists():
                outcome = ResultState.CANCELED
            elif deadline is not None and time.monotonic() > deadline:
                outcome = ResultState.TIMEDOUT
            if outcome is not None:
                task_state.life_cycle = LifeCycle.TERMINATING
                self._save(files, state)
                kill_process_group(proc)
                if driver is not None:  # its Spark jobs on the shared driver go with it
                    self._warm.cancel_jobs(driver, env[JOB_GROUP_ENV])
                break
            time.sleep(POLL_SECONDS)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        code = proc.wait()
        result = json.loads(result_file.read_text()) if result_file.exists() else {}
        if outcome is ResultState.CANCELED:
            message = "canceled; the task's processes were killed"
        elif outcome is ResultState.TIMEDOUT:
            message = "timed out; the task's processes were killed"
        elif code == 0 and result.get("status", "succeeded") == "succeeded":
            outcome, message = ResultState.SUCCESS, ""
        else:
            outcome = ResultState.FAILED
            message = result.get("error") or f"the job exited with code {code}"
            last = _last_line(task_dir / "stdout.log")
            if last and last not in message:
                message = f"{message} (last output: {last})"
        task_state.life_cycle, task_state.result, task_state.message = LifeCycle.TERMINATED, outcome, message
        task_state.end_time = _now()
        self._save(files, state)
        return outcome

    def _follow(
        self, files: _RunFiles, cancel: threading.Event, state: RunState, index: int, deadline: float | None
    ) -> ResultState | None:
        """A task a dead owner started: follow its process to the end; None when it left no outcome (it
        died with the owner) and must run again."""
        task_state = state.tasks[index]
        task_dir = files.task_dir(task_state.task_key)
        try:
            pid = int(json.loads((task_dir / "pid").read_text())["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
        outcome: ResultState | None = None
        while _running(pid):
            if cancel.is_set() or files.cancel.exists():
                outcome = ResultState.CANCELED
            elif deadline is not None and time.monotonic() > deadline:
                outcome = ResultState.TIMEDOUT
            if outcome is not None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, signal.SIGKILL)
                break
            time.sleep(POLL_SECONDS)
        result_file = task_dir / "result.json"
        result = json.loads(result_file.read_text()) if result_file.exists() else None
        if outcome is ResultState.CANCELED:
            message = "canceled; the task's processes were killed"
        elif outcome is ResultState.TIMEDOUT:
            message = "timed out; the task's processes were killed"
        elif result is None:
            log.warning("local cluster task %s died with its owner; it runs again", task_state.task_run_id)
            return None
        elif result.get("status", "succeeded") == "succeeded":
            outcome, message = ResultState.SUCCESS, ""
        else:
            outcome, message = ResultState.FAILED, result.get("error") or "the job failed"
        task_state.life_cycle, task_state.result, task_state.message = LifeCycle.TERMINATED, outcome, message
        task_state.end_time = _now()
        self._save(files, state)
        return outcome

    def _adopt(self, handle: RunHandle, files: _RunFiles, dead_owner: int) -> bool:
        """Take over a run whose owner died; the first service object to claim it wins."""
        try:
            (files.dir / f"adopted-from-{dead_owner}").open("x").close()
        except FileExistsError:
            return False
        request = parse_request_file(files.request)
        base_dir = Path(request.base_dir).resolve() if request.base_dir else Path.cwd()
        plans = self._plans(request, PathMapper(self.workspace_dir, base_dir))
        order = _topological(request)
        with self._lock:
            self._save(files, RunState.model_validate(files.read_state()["state"]))
            event = self._cancel_events.setdefault(handle.run_id, threading.Event())
        thread = threading.Thread(
            target=self._execute_in_slot,
            args=(request, files, plans, order, base_dir, event),
            name=f"local-cluster-{handle.run_id}",
            daemon=True,
        )
        self._threads[handle.run_id] = thread
        thread.start()
        log.warning(
            "local cluster run %s: its owner %d is gone; this process goes on with it",
            handle.run_id,
            dead_owner,
        )
        return True

    def _env(self, plan: LaunchPlan) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not _looks_secret(k)}
        env.update(plan.env)
        python_path = [str(PROJECT_ROOT), *plan.python_path]
        if env.get("PYTHONPATH"):
            python_path.append(env["PYTHONPATH"])
        env["PYTHONPATH"] = os.pathsep.join(python_path)
        env["PYSPARK_PYTHON"] = self.python
        env["PYSPARK_DRIVER_PYTHON"] = self.python
        env["SPARK_LOCAL_IP"] = "127.0.0.1"
        env["PYTHONUNBUFFERED"] = "1"
        return env

    # ------------------------------------------------------------------------------------------ read

    def _files(self, handle: RunHandle) -> _RunFiles:
        files = _RunFiles(self.root, handle.run_id)
        if not files.state.exists():
            raise RunNotFound(f"no local cluster run {handle.run_id}")
        return files

    def get_state(self, handle: RunHandle) -> RunState:
        files = self._files(handle)
        data = files.read_state()
        state = RunState.model_validate(data["state"])
        owner = int(data.get("owner_pid", 0))
        if not state.terminal and owner != os.getpid() and not pid_alive(owner):
            try:
                self._adopt(handle, files, owner)
            except Exception as exc:  # the run cannot go on here: say so rather than leave it running
                log.exception("local cluster run %s could not be adopted", handle.run_id)
                state.life_cycle, state.result = LifeCycle.TERMINATED, ResultState.FAILED
                state.message = f"the local cluster process ({owner}) that ran this run is gone: {exc}"
                state.end_time = state.end_time or _now()
        return state

    def cancel(self, handle: RunHandle) -> None:
        files = self._files(handle)
        files.cancel.touch()
        event = self._cancel_events.get(handle.run_id)
        if event is not None:
            event.set()

    def get_output(self, handle: RunHandle) -> RunOutput:
        files = self._files(handle)
        state = self.get_state(handle)
        values_dir = files.dir / "task_values"
        outputs = []
        half = self.log_tail_chars // 2
        for task in state.tasks:
            task_dir = files.task_dir(task.task_key)
            result_path = task_dir / "result.json"
            result = json.loads(result_path.read_text()) if result_path.exists() else {}
            out, out_cut = tail(_read(task_dir / "stdout.log"), half)
            err, err_cut = tail(_read(task_dir / "stderr.log"), half)
            values_path = values_dir / f"{task.task_key}.json"
            outputs.append(
                TaskOutput(
                    task_key=task.task_key,
                    logs=f"--- stdout ---\n{out}\n--- stderr (driver log) ---\n{err}",
                    logs_truncated=out_cut or err_cut,
                    notebook_result=result.get("notebook_result"),
                    error=result.get("error")
                    or (task.message if task.result is not ResultState.SUCCESS else None),
                    error_trace=result.get("error_trace"),
                    task_values=json.loads(values_path.read_text()) if values_path.exists() else {},
                )
            )
        return RunOutput(run_id=handle.run_id, tasks=outputs)

    def wait(
        self, handle: RunHandle, timeout: float, sleep: Callable[[float], None] = time.sleep
    ) -> RunState:
        """For tests and the CLI only: orchestrators poll `get_state` with durable timers instead."""
        end = time.monotonic() + timeout
        while True:
            state = self.get_state(handle)
            if state.terminal or time.monotonic() > end:
                return state
            sleep(0.1)


_LIVE_SERVICES: weakref.WeakSet[LocalClusterJobService] = weakref.WeakSet()


@atexit.register
def _stop_all() -> None:
    """The host is exiting: cancel what still runs, so no job outlives it unaccounted for."""
    for service in list(_LIVE_SERVICES):
        service.close(wait=False, timeout=KILL_GRACE_SECONDS + 2)


def _job_files(task: Any) -> list[str]:
    files = []
    if task.spark_python_task is not None:
        files.append(task.spark_python_task.python_file)
    if task.notebook_task is not None:
        files.append(task.notebook_task.notebook_path)
    if task.spark_batch_task is not None:
        files.append(task.spark_batch_task.file)
        files.extend(task.spark_batch_task.py_files)
    if task.spark_submit_task is not None:
        files.extend(p for p in task.spark_submit_task.parameters if p.endswith(".py"))
    files.extend(lib.whl for lib in task.libraries if lib.whl)
    return files


def _running(pid: int) -> bool:
    """Alive and not a zombie (a process whose dead parent's successor has not reaped it yet)."""
    if not pid_alive(pid):
        return False
    try:
        return "\nState:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False


def parse_request_file(path: Path) -> ClusterRunRequest:
    return ClusterRunRequest.model_validate_json(path.read_text())


def _read(path: Path) -> str:
    return path.read_bytes().decode("utf-8", errors="replace") if path.exists() else ""


def _last_line(path: Path) -> str:
    lines = [line.strip() for line in _read(path).splitlines() if line.strip()]
    return lines[-1][:_LAST_LINE_CHARS] if lines else ""


_SECRET_MARKERS = ("TOKEN", "PASSWORD", "SECRET", "KEY", "CONNECTION", "AzureWebJobsStorage")


def _looks_secret(name: str) -> bool:
    """The app's credentials are not the job's: a job never inherits them."""
    upper = name.upper()
    return any(marker.upper() in upper for marker in _SECRET_MARKERS)
