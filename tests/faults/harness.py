"""What the fault tests share: a real devhost serving this app (killed with SIGKILL and started again on the
same state), Batch jobs whose commands leave a ground-truth line outside the app, and the counts every
fault is judged by.

The counts compare the app against ground truth: each command appends `<run id> <task>` to a file when it
completes, the local Batch state says which pools exist, Table storage holds the tracking rows.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devhost.ports import free_port
from jobclusters.client.api import ApiClient, ApiClientError
from jobclusters.client.launcher import EmbeddedDefault
from jobclusters.tracking.models import RunState, TaskRunRecord
from jobclusters.tracking.table_store import TableRunStore
from tests.e2e.conftest import batch_job as chained_batch_job

PROJECT_DIR = Path(__file__).resolve().parents[2]
FUNCTION_KEY = "faults-function-key-7d2e"
OWNER_KEY = "jobclusters-owner"


def batch_job(name: str, ground: Path, sleeps: list[float]) -> dict[str, Any]:
    """Tasks one after another on an on-demand pool; each sleeps, then leaves its ground-truth line."""
    line = "'{{job.run_id}} t%d'"
    commands = {f"t{i}": f"sleep {s:.2f} && echo {line % i} >> {ground}" for i, s in enumerate(sleeps)}
    return chained_batch_job(name, commands, max_concurrent_runs=50)


@dataclass
class Host:
    """One devhost on a private state dir and port; `kill` is SIGKILL of the host process alone (its task
    processes live on, as on a real machine whose Functions host crashed)."""

    connection: str
    state: Path
    prefix: str
    port: int = field(default_factory=free_port)
    kills: int = 0

    def __post_init__(self) -> None:
        env = {
            "AzureWebJobsStorage": self.connection,
            "JOBCLUSTERS_TABLE_PREFIX": self.prefix,
            "JOBCLUSTERS_MODE": "local",
            "JOBCLUSTERS_SCHEDULER_CRON": "0 0 0 1 1 *",
            "DEVHOST_FUNCTION_KEY": FUNCTION_KEY,
        }
        self.launcher = EmbeddedDefault(PROJECT_DIR, self.state, env=env, port=self.port)
        self.client = ApiClient(f"http://127.0.0.1:{self.port}", FUNCTION_KEY)

    def start(self) -> None:
        self.launcher.ensure(timeout=120)

    def kill(self) -> None:
        record = json.loads(self.launcher.record_path.read_text())
        pid = int(record["pid"])
        os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
        self.kills += 1

    def stop(self) -> None:
        self.launcher.stop()

    def view(self, run_id: str) -> dict[str, Any] | None:
        try:
            return self.client.get_run(run_id)
        except (ApiClientError, OSError):
            return None
        except Exception:  # the host is going down or coming up
            return None

    def wait_done(self, run_ids: list[str], timeout: float) -> dict[str, dict[str, Any]]:
        done: dict[str, dict[str, Any]] = {}
        deadline = time.monotonic() + timeout
        while len(done) < len(run_ids) and time.monotonic() < deadline:
            for run_id in run_ids:
                if run_id not in done:
                    view = self.view(run_id)
                    if view is not None and view.get("done"):
                        done[run_id] = view
            time.sleep(0.5)
        return done


def new_prefix() -> str:
    return "f" + uuid.uuid4().hex[:10]


def owned_pools(state: Path) -> list[str]:
    """Pools the app created that the local Batch account still holds (its SQLite state, read-only)."""
    path = state / "batch" / "batch.sqlite"
    if not path.exists():
        return []
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT id, spec FROM pools").fetchall()
    finally:
        db.close()
    return [
        i for i, spec in rows if any(m.get("name") == OWNER_KEY for m in json.loads(spec).get("metadata", []))
    ]


@dataclass
class Counts:
    runs: int
    lost: int
    failed_whose_work_succeeded: int
    repeated_commands: int
    missing_commands: int
    pools_left: int
    tracking_disagreeing: int

    def zero_faults(self) -> dict[str, int]:
        return {
            "lost": self.lost,
            "failed_whose_work_succeeded": self.failed_whose_work_succeeded,
            "repeated_commands": self.repeated_commands,
            "missing_commands": self.missing_commands,
            "pools_left": self.pools_left,
            "tracking_disagreeing": self.tracking_disagreeing,
        }


def count(
    host: Host, runs: dict[str, int], views: dict[str, dict[str, Any]], ground: Path, store: TableRunStore
) -> Counts:
    """`runs`: run id -> number of tasks. Every command exits 0, so every run must succeed."""
    lines = ground.read_text().splitlines() if ground.exists() else []
    seen = Counter(lines)
    expected = {f"{run_id} t{i}" for run_id, n in runs.items() for i in range(n)}
    disagreeing = 0
    for run_id, view in views.items():
        run, tasks = store.get_run_with_tasks(run_id)
        if run is None or run.state != RunState(view["result"]):
            disagreeing += 1
        latest: dict[str, TaskRunRecord] = {}
        for row in tasks:
            if row.attempt >= getattr(latest.get(row.task_key), "attempt", 0):
                latest[row.task_key] = row
        for key, task in view["tasks"].items():
            found = latest.get(key)
            if found is None or found.state.value != task["state"]:
                disagreeing += 1
    return Counts(
        runs=len(runs),
        lost=len(runs) - len(views),
        failed_whose_work_succeeded=sum(1 for v in views.values() if v.get("result") != "SUCCESS"),
        repeated_commands=sum(n - 1 for n in seen.values() if n > 1),
        missing_commands=len(expected - set(seen)),
        pools_left=len(owned_pools(host.state)),
        tracking_disagreeing=disagreeing,
    )
