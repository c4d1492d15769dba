"""Runs local Batch tasks as real processes, laid out on disk as on a Batch node.

Each task is a `/bin/sh -c` subprocess in its own session (so killing its process group kills whatever it
started) and its own working directory under the node's root, with the `AZ_BATCH_*` variables Batch sets
and none of the host's secrets. The runner only starts, waits for and kills processes: when to kill one
(terminate, requeue, wall-clock limit) is the scheduler's decision, recorded in `Task.kill_reason`.

A task's process outlives the host that started it (its own session), so a tiny shell wrapper around the
command writes the attempt's pid and, when the command ends, its exit code next to the task's stdout
(`attempt_files`). A new owner after a crash reads those files to adopt what still runs or has finished,
instead of failing or repeating work whose outcome is on disk.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jobclusters.services.batch import OutputFile, resolve_environment
from jobclusters.services.blob_io import BlobIO
from jobclusters.services.local_batch.files import (
    FileTransferError,
    fetch_resource_files,
    upload_output_files,
)
from jobclusters.services.local_batch.state import Job, Node, Pool, Task, failure

ACCOUNT_NAME = "localbatch"
#: `$1` is the command line, `$2` the attempt's exit-code file (its pid goes to `$2.pid` first)
_WRAPPER = (
    'printf %s "$$" > "$2.pid"; /bin/sh -c "$1"; c=$?; '
    'printf %s "$c" > "$2.tmp" && mv "$2.tmp" "$2"; exit "$c"'
)
_POLL_SECONDS = 0.05
_BASE_ENV = ("PATH", "LANG", "LC_ALL", "TZ", "HOME", "TMPDIR", "USER", "LOGNAME", "SHELL")


@dataclass
class Launch:
    """A task claimed for a slot on a node, ready for a worker thread to run."""

    task: Task
    pool_id: str
    node: Node
    task_dir: str
    wd: str
    env: dict[str, str]
    preempt: bool


@dataclass
class Attempt:
    """The files of an attempt a previous owner started: where it ran and its process group, if known."""

    pool_id: str
    node_id: str
    task_dir: str
    pgid: int | None


@dataclass
class Outcome:
    task: Task
    exit_code: int | None
    failure: dict[str, Any] | None = None
    preempted: bool = False
    timed_out: bool = False
    node: Node | None = None
    started: float | None = None
    ended: float | None = None


def attempt_file(task_dir: str, task: Task) -> str:
    """The exit-code file of the task's current attempt (retries and requeues each have their own)."""
    return f"{task_dir}/.attempt-{task.retry_count}-{task.requeue_count}.exit"


def read_exit_code(path: str) -> int | None:
    try:
        return int(Path(path).read_text().strip())
    except (OSError, ValueError):
        return None


def _modified_at(path: str) -> float | None:
    try:
        return os.path.getmtime(path)
    except OSError:
        return None


def read_pid(path: str) -> int | None:
    return read_exit_code(path + ".pid")


def group_alive(pgid: int, wd: str) -> bool:
    """Whether the attempt's wrapper still runs: its pid exists and works in the task's directory (so a
    reused pid of some other process does not count)."""
    try:
        return os.readlink(f"/proc/{pgid}/cwd") == os.path.realpath(wd)
    except FileNotFoundError:
        return False
    except OSError:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


def kill_group(pgid: int | None) -> None:
    if pgid:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)


class ProcessRunner:
    """The processes of one local Batch account and the node directories they run in (thread-safe)."""

    def __init__(self, root: Path, blob: BlobIO, clock: Callable[[], float] = time.time) -> None:
        self._root = root
        self._blob = blob
        self._clock = clock
        self._lock = threading.Lock()
        self._running: dict[int, int] = {}  # id(task) -> process group
        self._env_cache: dict[tuple[str, str, str], dict[str, str]] = {}
        self._stopping = False

    # -- node directories ------------------------------------------------------------------------------
    def node_root(self, pool_id: str, node_id: str) -> Path:
        return self._root / "pools" / pool_id / "nodes" / node_id

    def prepare_nodes(self, pool: Pool) -> None:
        for node in pool.nodes:
            (self.node_root(pool.spec.id, node.node_id) / "shared").mkdir(parents=True, exist_ok=True)

    def remove_pool_dirs(self, pool_id: str) -> None:
        shutil.rmtree(self._root / "pools" / pool_id, ignore_errors=True)

    def remove_job_dirs(self, job_id: str) -> None:
        for node_dir in (self._root / "pools").glob("*/nodes/*/workitems/" + job_id):
            shutil.rmtree(node_dir, ignore_errors=True)

    def task_dir(self, job: Job | None, task: Task, pool: Pool, node: Node) -> str:
        root = str(self.node_root(pool.spec.id, node.node_id))
        if task.kind == "startTask":
            return root + "/startup"
        if job is not None and task.kind in ("jobPreparation", "jobRelease"):
            name = "jobpreparation" if task.kind == "jobPreparation" else "jobrelease"
            return f"{root}/workitems/{job.spec.id}/job-1/{name}"
        assert job is not None
        return f"{root}/workitems/{job.spec.id}/job-1/{task.spec.id}"

    def find_attempt(self, job_id: str, task: Task) -> Attempt | None:
        """The on-disk trace of the task's current attempt, wherever it was placed; None if never started."""
        if task.kind not in ("task", "jobManager"):
            return None
        candidates = [task.task_dir] if task.task_dir else []
        candidates += sorted(
            str(p) for p in (self._root / "pools").glob(f"*/nodes/*/workitems/{job_id}/job-1/{task.spec.id}")
        )
        for task_dir in candidates:
            exit_file = attempt_file(task_dir, task)
            if not (os.path.exists(exit_file) or os.path.exists(exit_file + ".pid")):
                continue
            parts = Path(task_dir).relative_to(self._root / "pools").parts
            return Attempt(pool_id=parts[0], node_id=parts[2], task_dir=task_dir, pgid=read_pid(exit_file))
        return None

    # -- environment -----------------------------------------------------------------------------------
    def _base_env(self, pool: Pool, node: Node, job: Job | None) -> dict[str, str]:
        """What every task of this job on this node sees (computed once; a job's spec never changes)."""
        key = (pool.spec.id, node.node_id, job.spec.id if job is not None else "")
        cached = self._env_cache.get(key)
        if cached is not None:
            return cached
        root = str(self.node_root(pool.spec.id, node.node_id))
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

    def env(
        self, pool: Pool, node: Node, job: Job | None, task: Task, task_dir: str, wd: str
    ) -> dict[str, str]:
        """The task's environment; raises `BatchSpecError` when a `secretRef` names no app setting."""
        env = dict(self._base_env(pool, node, job))
        env["AZ_BATCH_TASK_DIR"] = task_dir
        env["AZ_BATCH_TASK_WORKING_DIR"] = wd
        env["AZ_BATCH_TASK_ID"] = task.spec.id
        if task.spec.environment_settings:
            for pair in resolve_environment(task.spec.environment_settings):
                env[pair["name"]] = pair["value"]
        return env

    # -- processes -------------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return bool(self._running)

    def kill(self, task: Task) -> None:
        with self._lock:
            pgid = self._running.get(id(task))
        kill_group(pgid)

    def stop(self) -> None:
        """Kill every running process; tasks started from now on are killed at once."""
        with self._lock:
            self._stopping = True
            groups = list(self._running.values())
        for pgid in groups:
            kill_group(pgid)

    def run(self, launch: Launch, started: Callable[[Task], None]) -> Outcome:
        """Fetch the resource files, run the process to its end, upload the output files.

        `started` is called with the task once its process (and so its `pgid`) exists. The outcome
        carries the process's own start and end, which `executionInfo` reports as on Batch.
        """
        task, task_dir, wd = launch.task, launch.task_dir, launch.wd
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
                return Outcome(task, None, failure("UserError", exc.code, str(exc)))
        exit_file = attempt_file(task_dir, task)
        for stale in (exit_file, exit_file + ".pid"):
            with contextlib.suppress(FileNotFoundError):
                os.remove(stale)
        with open(task_dir + "/stdout.txt", "wb") as out, open(task_dir + "/stderr.txt", "wb") as err:
            began = self._clock()
            proc = subprocess.Popen(
                ["/bin/sh", "-c", _WRAPPER, "batch-task", task.spec.command_line, exit_file],
                cwd=wd,
                env=launch.env,
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                close_fds=True,
            )
        with self._lock:
            self._running[id(task)] = proc.pid
        task.pgid = proc.pid
        started(task)
        if self._stopping or task.kill_reason is not None:
            kill_group(proc.pid)
        try:
            if launch.preempt:
                time.sleep(0.02)  # a spot node is reclaimed while the task runs
                kill_group(proc.pid)
                proc.wait()
                return Outcome(task, None, preempted=True)
            proc.wait()
            ended = self._clock()
        finally:
            with self._lock:
                self._running.pop(id(task), None)
        code = proc.returncode if proc.returncode >= 0 else 128 - proc.returncode  # a signal, as `$?` says
        outcome = self._conclude(task, code, wd)
        outcome.started, outcome.ended = began, ended
        return outcome

    def adopt(self, task: Task, task_dir: str, wd: str, pgid: int | None) -> Outcome:
        """Follow an attempt a previous owner started, to its end: its exit code comes from the attempt's
        file. A process gone without one was killed with its host (the outcome is unknown): requeued."""
        exit_file = attempt_file(task_dir, task)
        if pgid is not None:
            with self._lock:
                self._running[id(task)] = pgid
            if self._stopping or task.kill_reason is not None:
                kill_group(pgid)
            try:
                while read_exit_code(exit_file) is None and group_alive(pgid, wd):
                    time.sleep(_POLL_SECONDS)
            finally:
                with self._lock:
                    self._running.pop(id(task), None)
        code = read_exit_code(exit_file)
        if code is None:
            return Outcome(task, None, preempted=True)
        outcome = self._conclude(task, code, wd)
        # the wrapper wrote the pid file as the command started and the exit file as it ended
        outcome.started, outcome.ended = _modified_at(exit_file + ".pid"), _modified_at(exit_file)
        return outcome

    def _conclude(self, task: Task, code: int | None, wd: str) -> Outcome:
        """What an attempt that ended with `code` means, given why the scheduler killed it (if it did)."""
        if task.kill_reason == "requeue":
            self._upload(task, wd, succeeded=False)
            return Outcome(task, None, preempted=True)
        if task.kill_reason == "terminate":
            ended = failure("UserError", "TaskEnded", "The task was ended by a terminate job request.")
            return Outcome(task, code, _with_upload_failures(ended, self._upload(task, wd, succeeded=False)))
        if task.kill_reason == "timeout":
            ended = failure(
                "UserError", "TaskEnded", "The task exceeded its maxWallClockTime and was terminated."
            )
            uploads = self._upload(task, wd, succeeded=False)
            return Outcome(task, code, _with_upload_failures(ended, uploads), timed_out=True)
        failed: dict[str, Any] | None = None
        if code != 0:
            failed = failure(
                "UserError", "FailureExitCode", f"The task process exited with exit code {code}."
            )
        uploads = self._upload(task, wd, succeeded=code == 0)
        if failed is None and uploads:
            failed = failure("UserError", "FileUploadError", "; ".join(uploads))
        else:
            failed = _with_upload_failures(failed, uploads)
        return Outcome(task, code, failed)

    def _upload(self, task: Task, wd: str, *, succeeded: bool) -> list[str]:
        """Every output file the condition allows, each on its own (the logs too when another one
        fails, and when the task was ended or its node went away); returns what failed."""
        files: list[OutputFile] = task.spec.output_files
        if not files:
            return []
        return upload_output_files(files, Path(wd), succeeded=succeeded, blob=self._blob)


def _with_upload_failures(failed: dict[str, Any] | None, uploads: list[str]) -> dict[str, Any] | None:
    if failed is None or not uploads:
        return failed
    return {**failed, "message": f"{failed.get('message', '')} {'; '.join(uploads)}".strip()}
