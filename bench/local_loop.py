"""The local loop: how long trivial work takes on the embedded default, each figure side by side with the
same work done directly, in one run; the last line is JSON.

- chain6: a chain of six trivial Batch commands (`true`) as one job, against running `true` six times;
  overhead per task, and the Durable hops per task (orchestration instances, orchestrator episodes,
  activity calls and history events of the latest execution of each instance, read from devhost's store).
- fanout20: one command fanned out over 20 inputs, against the 20 commands run directly (one after the
  other), overhead of the whole task.
- spark3: three small Spark tasks (a chain) on one job cluster, against one driver doing the same three
  counts in one process.
- demo: the `make demo` pipeline (examples/daily-sales, 4 daily files), from the upload of its files to
  the end of its run.

Figures are wall-clock on a shared machine: compare the columns of one run, not runs with each other.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from devhost.azurite import start_azurite  # noqa: E402
from devhost.ports import free_port  # noqa: E402
from jobclusters.localshim.session import LOCAL_DEFAULTS  # noqa: E402
from tests.e2e.conftest import TAGS, AppHost, batch_job, start_host  # noqa: E402

CHAIN = 6
FAN_OUT = 20


def _run(host: AppHost, job: dict[str, Any]) -> tuple[str, float]:
    host.client.register_job(job)
    started = time.perf_counter()
    run_id = str(host.client.start_job(job["name"])["run_id"])
    while True:
        view = host.client.get_run(run_id)
        if view.get("done"):
            break
        time.sleep(0.02)
    elapsed = time.perf_counter() - started
    _check(view)
    return run_id, elapsed


def _check(view: dict[str, Any]) -> None:
    state = view.get("result_state") or view.get("state")
    if str(state).lower() not in ("success", "succeeded"):
        raise RuntimeError(f"run {view.get('run_id')} ended {state}: {json.dumps(view)[:800]}")


def hops(host: AppHost, run_id: str) -> dict[str, Any]:
    """Instances of the run (the run_job instance and everything under it) and the orchestrator episodes,
    activity calls, history events and work_ended signals of the latest execution of each, in total and
    per orchestrator."""
    db = sqlite3.connect(host.devhost_state / "devhost.sqlite3")
    try:
        rows = list(
            db.execute("SELECT instance_id, name FROM instances WHERE instance_id LIKE ?", (f"{run_id}%",))
        )
        total = {"episodes": 0, "activities": 0, "events": 0, "signals": 0}
        by_name: dict[str, dict[str, int]] = {}
        for instance_id, name in rows:
            own = by_name.setdefault(
                name, {"instances": 0, "episodes": 0, "activities": 0, "events": 0, "signals": 0}
            )
            own["instances"] += 1
            for (raw,) in db.execute("SELECT event FROM history WHERE instance_id = ?", (instance_id,)):
                event = json.loads(raw)
                kind = event.get("EventType", event.get("eventType"))
                counted = ["events"]
                if kind in (12, "OrchestratorStarted"):
                    counted.append("episodes")
                elif kind in (4, "TaskScheduled"):
                    counted.append("activities")
                elif kind in (15, "EventRaised") and event.get("Name") == "work_ended":
                    counted.append("signals")
                for key in counted:
                    total[key] += 1
                    own[key] += 1
        return {"instances": len(rows), **total, "by_orchestrator": by_name}
    finally:
        db.close()


def direct(commands: list[str]) -> float:
    started = time.perf_counter()
    for command in commands:
        subprocess.run(command, shell=True, check=True)
    return time.perf_counter() - started


def chain6(host: AppHost) -> dict[str, Any]:
    name = f"chain-{uuid.uuid4().hex[:6]}"
    run_id, elapsed = _run(host, batch_job(name, {f"t{i}": "true" for i in range(CHAIN)}))
    alone = direct(["true"] * CHAIN)
    counts = hops(host, run_id)
    return {
        "run_seconds": round(elapsed, 3),
        "direct_seconds": round(alone, 3),
        "overhead_per_task_seconds": round((elapsed - alone) / CHAIN, 3),
        **counts,
        "episodes_per_task": round(counts["episodes"] / CHAIN, 2),
        "activities_per_task": round(counts["activities"] / CHAIN, 2),
    }


def fanout20(host: AppHost) -> dict[str, Any]:
    name = f"fan-{uuid.uuid4().hex[:6]}"
    job = batch_job(name, {"each": "test -n {{input}}"})
    job["tasks"][0]["payload"]["fan_out"] = {"items": [f"in{i}" for i in range(FAN_OUT)]}
    _, elapsed = _run(host, job)
    alone = direct([f"test -n in{i}" for i in range(FAN_OUT)])
    return {
        "run_seconds": round(elapsed, 3),
        "direct_seconds": round(alone, 3),
        "overhead_seconds": round(elapsed - alone, 3),
    }


SPARK_CONF = {"spark.master": "local[2]", "spark.sql.shuffle.partitions": "2"}
COUNT_TASK = """
import sys
from pyspark.sql import SparkSession
spark = SparkSession.builder.getOrCreate()
n = int(sys.argv[1])
print("count", spark.range(n).selectExpr("id % 7 as k").groupBy("k").count().count())
"""
ONE_DRIVER = """
import json, sys
from pyspark.sql import SparkSession
builder = SparkSession.builder.master("local[2]").config("spark.sql.shuffle.partitions", "2")
for key, value in json.loads(sys.argv[1]).items():  # the local cluster's own JVM and UI settings
    builder = builder.config(key, value)
spark = builder.getOrCreate()
for n in (100000, 200000, 300000):
    print("count", spark.range(n).selectExpr("id % 7 as k").groupBy("k").count().count())
spark.stop()
"""


def spark3(host: AppHost, folder: Path) -> dict[str, Any]:
    """Three small Spark tasks of one run on one job cluster, against one driver doing the same work."""
    (folder / "count.py").write_text(COUNT_TASK)
    (folder / "one_driver.py").write_text(ONE_DRIVER)
    name = f"spark-{uuid.uuid4().hex[:6]}"
    tasks = []
    for i, n in enumerate((100000, 200000, 300000)):
        task: dict[str, Any] = {
            "key": f"count{i}",
            "compute": {"kind": "job_cluster", "job_cluster_key": "shared"},
            "payload": {"kind": "spark_python", "python_file": "count.py", "parameters": [str(n)]},
        }
        if i:
            task["depends_on"] = [{"task_key": f"count{i - 1}"}]
        tasks.append(task)
    cluster = {
        "platform": "databricks",
        "node_type": "Standard_DS3_v2",
        "num_workers": 0,
        "spark_conf": SPARK_CONF,
    }
    job = {
        "format": "jobclusters/v1",
        "name": name,
        "tags": TAGS,
        "job_clusters": [{"key": "shared", "cluster": cluster}],
        "tasks": tasks,
    }
    host.client.register_job(job, base_dir=str(folder))
    started = time.perf_counter()
    run_id = str(host.client.start_job(name)["run_id"])
    view = host.wait_run_done(run_id, timeout=600)
    elapsed = time.perf_counter() - started
    _check(view)
    started = time.perf_counter()
    defaults = json.dumps(LOCAL_DEFAULTS)
    subprocess.run([sys.executable, str(folder / "one_driver.py"), defaults], check=True, capture_output=True)
    alone = time.perf_counter() - started
    return {
        "run_seconds": round(elapsed, 2),
        "one_driver_seconds": round(alone, 2),
        "ratio": round(elapsed / alone, 2),
    }


def demo_pipeline(host: AppHost) -> dict[str, Any]:
    """The `make demo` pipeline (examples/daily-sales) from the upload of its files to its end."""
    from jobclusters.commands.demo import EXAMPLE, JOB_ID, load_job, upload_batch
    from jobclusters.run_request import derive_run_id

    host.client.register_job(load_job(host.state_dir / "lake"), job_id=JOB_ID, base_dir=str(EXAMPLE))
    batch = "batch-" + uuid.uuid4().hex[:8]
    started = time.perf_counter()
    url, etag = upload_batch(host.connection, batch, 4, 400)
    run_id = derive_run_id(JOB_ID, url, etag)
    view = host.wait_run_done(run_id, timeout=600)
    elapsed = time.perf_counter() - started
    _check(view)
    return {"upload_to_end_seconds": round(elapsed, 2)}


def main() -> None:
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-loop-") as tmp:
        azurite = start_azurite(None, project_dir=PROJECT)
        try:
            host = start_host(
                azurite.connection_string, Path(tmp), "bench" + uuid.uuid4().hex[:6], free_port()
            )
            try:
                _run(host, batch_job(f"warm-{uuid.uuid4().hex[:6]}", {"w": "true"}))  # imports, pools, tables
                figures["chain6"] = chain6(host)
                print("chain of six trivial Batch commands:", figures["chain6"])
                figures["fanout20"] = fanout20(host)
                print("fan-out over 20 inputs:", figures["fanout20"])
                figures["spark3"] = spark3(host, Path(tmp))
                print("three Spark tasks on one job cluster vs one driver:", figures["spark3"])
                figures["demo"] = demo_pipeline(host)
                print("the demo pipeline (daily-sales):", figures["demo"])
            finally:
                host.launcher.stop()
        finally:
            azurite.stop()
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
