"""The warm drivers of the local cluster: one long-lived Spark driver process per shared cluster (a run's
job cluster, an existing cluster, a Spark pool), started with the first task that needs it, kept while
tasks use it and for the cluster's idle time after the last one, then stopped.

A task process attaches to its cluster's driver with its own session (`jobclusters/localshim/warm.py`):
the service hands it the driver's gateway file and its Spark job group through the environment, and on a
cancel or timeout kills the task's processes and cancels that job group on the driver, so the cluster's
other tasks run on. The driver reads its commands from a pipe the service holds: when the host goes, so
does the driver.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import subprocess
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from jobclusters.localshim.warm import GATEWAY_ENV, JOB_GROUP_ENV
from jobclusters.services.cluster import WarmCluster

log = logging.getLogger(__name__)


@dataclass
class WarmDriver:
    key: str
    folder: Path
    process: subprocess.Popen[bytes]
    idle_seconds: float
    users: int = 0
    stopper: threading.Timer | None = field(default=None, repr=False)

    @property
    def gateway_file(self) -> Path:
        return self.folder / "gateway.json"

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def task_env(self, job_group: str) -> dict[str, str]:
        return {GATEWAY_ENV: str(self.gateway_file), JOB_GROUP_ENV: job_group}


class WarmDrivers:
    def __init__(self, root: Path, python: str) -> None:
        self.root = root
        self.python = python
        self._lock = threading.Lock()
        self._drivers: dict[str, WarmDriver] = {}

    def acquire(
        self, cluster: WarmCluster, master: str, conf: Mapping[str, str], env: Mapping[str, str]
    ) -> WarmDriver:
        """The cluster's driver (started now if it is not running), held for one task."""
        with self._lock:
            driver = self._drivers.get(cluster.key)
            if driver is None or not driver.alive:
                driver = self._start(cluster, master, conf, env)
                self._drivers[cluster.key] = driver
            if driver.stopper is not None:
                driver.stopper.cancel()
                driver.stopper = None
            driver.users += 1
            return driver

    def release(self, driver: WarmDriver) -> None:
        """The task is done with it: after the idle time with no task, the driver stops."""
        with self._lock:
            driver.users -= 1
            if driver.users > 0 or not driver.alive:
                return
            driver.stopper = threading.Timer(driver.idle_seconds, self._stop_if_idle, args=(driver,))
            driver.stopper.daemon = True
            driver.stopper.start()

    def cancel_jobs(self, driver: WarmDriver, job_group: str) -> None:
        """Cancel one task's Spark jobs on the shared driver (its process is already gone)."""
        if driver.process.stdin is None or not driver.alive:
            return
        with contextlib.suppress(OSError, ValueError):
            driver.process.stdin.write(f"cancel {job_group}\n".encode())
            driver.process.stdin.flush()

    def close(self) -> None:
        with self._lock:
            drivers = list(self._drivers.values())
            self._drivers.clear()
        for driver in drivers:
            _stop(driver)

    def running(self) -> dict[str, int]:
        """Key -> pid of every live driver (tests, `doctor`)."""
        with self._lock:
            return {k: d.process.pid for k, d in self._drivers.items() if d.alive}

    def _start(
        self, cluster: WarmCluster, master: str, conf: Mapping[str, str], env: Mapping[str, str]
    ) -> WarmDriver:
        folder = self.root / hashlib.sha256(cluster.key.encode()).hexdigest()[:16]
        folder.mkdir(parents=True, exist_ok=True)
        gateway = folder / "gateway.json"
        gateway.unlink(missing_ok=True)
        spec = {
            "key": cluster.key,
            "master": master,
            "conf": dict(conf),
            "app_name": f"warm cluster {cluster.key}",
            "gateway_file": str(gateway),
        }
        (folder / "driver.json").write_text(json.dumps(spec))
        with open(folder / "driver.log", "ab") as out:
            process = subprocess.Popen(
                [self.python, "-m", "jobclusters.localshim.driver", str(folder / "driver.json")],
                cwd=folder,
                env=dict(env),
                stdin=subprocess.PIPE,
                stdout=out,
                stderr=out,
                start_new_session=True,  # a task's process group kill never reaches it
            )
        log.info("warm cluster %s: driver started (pid %d)", cluster.key, process.pid)
        return WarmDriver(cluster.key, folder, process, cluster.idle_seconds)

    def _stop_if_idle(self, driver: WarmDriver) -> None:
        with self._lock:
            if driver.users > 0 or self._drivers.get(driver.key) is not driver:
                return
            del self._drivers[driver.key]
        _stop(driver)


def _stop(driver: WarmDriver) -> None:
    """Close its pipe (it stops its SparkContext and exits); kill it if it does not."""
    with contextlib.suppress(OSError, ValueError):
        if driver.process.stdin is not None:
            driver.process.stdin.close()
    try:
        driver.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(driver.process.pid, 9)
        driver.process.wait()
    driver.gateway_file.unlink(missing_ok=True)
    log.info("warm cluster %s: driver stopped", driver.key)
