"""Tasks on one warm local cluster share its driver JVM and its `spark_conf`, each with its own session;
a cancel ends one task's process and Spark jobs only (real PySpark: each test starts one driver JVM)."""

from __future__ import annotations

import importlib.util
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jobclusters.services.cluster import LifeCycle, ResultState, RunHandle, parse_run_request
from jobclusters.services.local_cluster import LocalClusterJobService
from tests.eventually import eventually

pytestmark = [
    pytest.mark.spark,
    pytest.mark.skipif(importlib.util.find_spec("pyspark") is None, reason="pyspark is not installed"),
    pytest.mark.skipif(shutil.which("java") is None, reason="java is not installed"),
]

SPARK_WAIT = 240.0
CLUSTER = {
    "num_workers": 1,
    "spark_conf": {"spark.sql.shuffle.partitions": "7", "spark.jobclusters.cluster": "c1"},
}
PROBE = """
import json, sys, time
from pathlib import Path
from pyspark.sql import SparkSession
spark = SparkSession.builder.getOrCreate()
me, other = sys.argv[1], sys.argv[2]
folder = Path(sys.argv[3])
spark.range(3).createOrReplaceTempView(f"view_{me}")
spark.conf.set("spark.sql.session.timeZone", f"Etc/GMT+{1 if me == 'a' else 2}")
(folder / f"{me}.ready").touch()
while not (folder / f"{other}.ready").exists():
    time.sleep(0.05)
seen = {
    "app": spark.sparkContext.applicationId,
    "shuffle": spark.conf.get("spark.sql.shuffle.partitions"),
    "cluster": spark.conf.get("spark.jobclusters.cluster"),
    "zone": spark.conf.get("spark.sql.session.timeZone"),
    "views": sorted(t.name for t in spark.catalog.listTables()),
    "sum": spark.range(100).selectExpr("sum(id) as s").collect()[0].s,
}
(folder / f"{me}.json").write_text(json.dumps(seen))
(folder / f"{me}.done").touch()
while not (folder / f"{other}.done").exists():
    time.sleep(0.05)
"""
LONG_JOB = """
import sys
from pathlib import Path
from pyspark.sql import SparkSession
spark = SparkSession.builder.getOrCreate()
(Path(sys.argv[1]) / "long.started").touch()
spark.range(10**13).selectExpr("sum(id)").collect()
"""
AFTER_CANCEL = """
import json, sys, time
from pathlib import Path
from pyspark.sql import SparkSession
spark = SparkSession.builder.getOrCreate()
folder = Path(sys.argv[1])
while not (folder / "long.canceled").exists():
    time.sleep(0.05)
tracker = spark.sparkContext.statusTracker()
deadline = time.monotonic() + 30
while tracker.getActiveJobsIds() and time.monotonic() < deadline:
    time.sleep(0.1)
seen = {"active_jobs": list(tracker.getActiveJobsIds()), "count": spark.range(1000).count()}
(folder / "after.json").write_text(json.dumps(seen))
"""
WAIT_FOR_GO = """
import sys, time
from pathlib import Path
from pyspark.sql import SparkSession
spark = SparkSession.builder.getOrCreate()
(Path(sys.argv[1]) / "first.started").touch()
while not (Path(sys.argv[1]) / "go").exists():
    time.sleep(0.05)
"""
COUNT = """
from pyspark.sql import SparkSession
print("count", SparkSession.builder.getOrCreate().range(1000).count())
"""
OWN_DRIVER = """
from pyspark.sql import SparkSession
spark = SparkSession.builder.config("spark.driver.memory", "600m").getOrCreate()
print("app", spark.sparkContext.applicationId, "memory", spark.conf.get("spark.driver.memory"))
"""


@pytest.fixture
def svc(tmp_path: Path) -> Iterator[LocalClusterJobService]:
    service = LocalClusterJobService(tmp_path / "state", max_local_cores=2)
    yield service
    service.close(wait=False)


def _submit(svc: LocalClusterJobService, jobs: Path, key: str, file: str, *args: str) -> RunHandle:
    request = parse_run_request(
        {
            "run_id": f"attempt-{key}",
            "base_dir": str(jobs),
            "tasks": [
                {
                    "task_key": key,
                    "new_cluster": CLUSTER,
                    "spark_python_task": {"python_file": file, "parameters": list(args)},
                }
            ],
            "warm_cluster": {"key": "job/run-1/shared", "idle_seconds": 30},
        }
    )
    return svc.submit(request, f"key-{key}")


def _ended(svc: LocalClusterJobService, handle: RunHandle) -> Any:
    state = svc.wait(handle, SPARK_WAIT)
    assert state.terminal, state
    return state


def test_two_tasks_share_the_driver_and_its_conf_but_not_their_sessions(
    svc: LocalClusterJobService, tmp_path: Path
) -> None:
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    (jobs / "probe.py").write_text(PROBE)

    a = _submit(svc, jobs, "a", "probe.py", "a", "b", str(jobs))
    b = _submit(svc, jobs, "b", "probe.py", "b", "a", str(jobs))

    for handle in (a, b):
        state = _ended(svc, handle)
        logs = svc.get_output(handle).tasks[0].logs
        assert state.result is ResultState.SUCCESS, f"{state.message}\n{logs[-3000:]}"
    seen_a, seen_b = (json.loads((jobs / f"{k}.json").read_text()) for k in ("a", "b"))
    assert seen_a["app"] == seen_b["app"], "one driver for both tasks"
    for seen in (seen_a, seen_b):
        assert (seen["shuffle"], seen["cluster"], seen["sum"]) == ("7", "c1", 4950), (
            "the cluster's spark_conf"
        )
    assert seen_a["views"] == ["view_a"] and seen_b["views"] == ["view_b"], "temp views stay the task's"
    assert (seen_a["zone"], seen_b["zone"]) == ("Etc/GMT+1", "Etc/GMT+2"), "session settings stay the task's"
    assert list(svc._warm.running()) == ["job/run-1/shared"]


def test_cancelling_one_task_leaves_the_other_running_on_the_same_driver(
    svc: LocalClusterJobService, tmp_path: Path
) -> None:
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    (jobs / "long.py").write_text(LONG_JOB)
    (jobs / "after.py").write_text(AFTER_CANCEL)

    long = _submit(svc, jobs, "long", "long.py", str(jobs))
    after = _submit(svc, jobs, "after", "after.py", str(jobs))
    eventually(lambda: (jobs / "long.started").exists() or None, timeout=SPARK_WAIT, what="the long job")
    driver_pid = svc._warm.running()["job/run-1/shared"]

    svc.cancel(long)
    assert _ended(svc, long).result is ResultState.CANCELED
    (jobs / "long.canceled").touch()

    state = _ended(svc, after)
    assert state.result is ResultState.SUCCESS, f"{state.message}\n{svc.get_output(after).tasks[0].logs}"
    seen = json.loads((jobs / "after.json").read_text())
    assert seen == {"active_jobs": [], "count": 1000}, "the canceled task's Spark job ended; driver ran on"
    assert svc._warm.running()["job/run-1/shared"] == driver_pid, "the driver lived on"
    assert svc.get_state(after).life_cycle is LifeCycle.TERMINATED


def test_a_cancel_that_reaches_the_driver_before_the_tasks_job_still_cancels_it(
    svc: LocalClusterJobService, tmp_path: Path
) -> None:
    """The race of a cancel with a job the killed task had just asked for: the driver cancels the task's
    job group for good, so a job that reaches the scheduler after the cancel is canceled too."""
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    (jobs / "first.py").write_text(WAIT_FOR_GO)
    (jobs / "late.py").write_text(COUNT)
    first = _submit(svc, jobs, "first", "first.py", str(jobs))
    eventually(lambda: (jobs / "first.started").exists() or None, timeout=SPARK_WAIT, what="the first task")
    driver = next(iter(svc._warm._drivers.values()))
    late_group = f"{svc._run_id('key-late')}:late"

    svc._warm.cancel_jobs(driver, late_group)
    late = _submit(svc, jobs, "late", "late.py")
    (jobs / "go").touch()

    state = _ended(svc, late)
    logs = svc.get_output(late).tasks[0].logs
    assert state.result is ResultState.FAILED, f"{state.message}\n{logs[-3000:]}"
    assert f"cancelled part of cancelled job group {late_group}" in logs, logs[-3000:]
    assert _ended(svc, first).result is ResultState.SUCCESS, "the other task's group is untouched"


def test_a_task_that_sets_driver_settings_gets_a_fresh_jvm_with_a_note(
    svc: LocalClusterJobService, tmp_path: Path
) -> None:
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    (jobs / "own.py").write_text(OWN_DRIVER)

    handle = _submit(svc, jobs, "own", "own.py")

    state = _ended(svc, handle)
    logs = svc.get_output(handle).tasks[0].logs
    assert state.result is ResultState.SUCCESS, f"{state.message}\n{logs[-3000:]}"
    assert "it sets spark.driver.memory" in logs and "fresh driver JVM" in logs
    assert "memory 600m" in logs
