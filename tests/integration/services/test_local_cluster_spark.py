"""Real PySpark jobs on the local cluster (each starts a JVM: a few seconds; keep this file short)."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from jobclusters.localshim.paths import PathMapper
from jobclusters.services.cluster import ResultState, parse_run_request
from jobclusters.services.local_cluster import LocalClusterJobService

pytestmark = [
    pytest.mark.spark,
    pytest.mark.skipif(importlib.util.find_spec("pyspark") is None, reason="pyspark is not installed"),
    pytest.mark.skipif(shutil.which("java") is None, reason="java is not installed"),
]

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "spark-standard-job"
SPARK_WAIT = 240.0


@pytest.fixture
def svc(tmp_path: Path) -> Iterator[LocalClusterJobService]:
    service = LocalClusterJobService(tmp_path / "state", max_local_cores=2)
    yield service
    service.close(wait=False)


def test_standard_job_writes_its_sample_input_aggregates_it_and_writes_parquet(svc, tmp_path: Path) -> None:
    sys.path.insert(0, str(EXAMPLE))
    try:
        from make_sample_data import expected_totals, generate
        from submit_request import runs_submit_request
    finally:
        sys.path.remove(str(EXAMPLE))
    as_of = date(2026, 1, 15)
    mapper = PathMapper(svc.workspace_dir, EXAMPLE)
    orders = generate(tmp_path / "expected-input", as_of)  # what the job's sample_data task writes
    request = parse_run_request(runs_submit_request("spark-example"))

    handle = svc.submit(request, "spark-example")
    state = svc.wait(handle, SPARK_WAIT)

    out = svc.get_output(handle).task("daily_sales")
    assert state.result is ResultState.SUCCESS, f"{state.message}\n{out.logs[-3000:]}"
    assert out.task_values["totals"] == expected_totals(orders, as_of)
    assert out.task_values["record_count"] == len(expected_totals(orders, as_of))
    assert "master=local[*, 4]" in out.logs, "single node: the cluster's own local master"
    assert "app=StandardJobCluster" in out.logs and "shuffle_partitions=4" in out.logs
    parquet = mapper.map("abfss://data@datalake.dfs.core.windows.net/processed/daily_sales/")
    parts = sorted(parquet.glob("part-*.parquet"))
    assert (parquet / "_SUCCESS").exists() and parts
    for part in parts:
        data = part.read_bytes()
        assert data[:4] == b"PAR1" and data[-4:] == b"PAR1"


NOTEBOOK = """# Databricks notebook source
rows = [(r, i) for i, r in enumerate(["north", "south", "north"])]
spark.createDataFrame(rows, "region string, n int").createOrReplaceTempView("sales")

# COMMAND ----------

# MAGIC %sql
# MAGIC SELECT region, count(*) AS orders FROM sales GROUP BY region ORDER BY region

# COMMAND ----------

conf = spark.sparkContext.getConf()
dbutils.jobs.taskValues.set("master", spark.sparkContext.master)
dbutils.jobs.taskValues.set("app", spark.sparkContext.appName)
dbutils.jobs.taskValues.set("tz", spark.conf.get("spark.sql.session.timeZone"))
north = spark.sql("SELECT count(*) AS c FROM sales WHERE region = 'north'").first().c
dbutils.notebook.exit(str(north))
"""


def test_notebook_gets_a_session_built_from_the_cluster_spec(svc, tmp_path) -> None:
    (tmp_path / "nb.py").write_text(NOTEBOOK)
    request = parse_run_request(
        {
            "run_id": "nb-run",
            "run_name": "nightly",
            "base_dir": str(tmp_path),
            "tasks": [
                {
                    "task_key": "report",
                    "notebook_task": {"notebook_path": "nb.py"},
                    "new_cluster": {
                        "num_workers": 1,
                        "spark_conf": {"spark.sql.session.timeZone": "Europe/Paris"},
                    },
                }
            ],
        }
    )
    handle = svc.submit(request, "nb")
    state = svc.wait(handle, SPARK_WAIT)
    out = svc.get_output(handle).task("report")
    assert state.result is ResultState.SUCCESS, f"{state.message}\n{out.logs[-3000:]}"
    assert out.notebook_result == "2"
    assert out.task_values == {"master": "local[1]", "app": "nightly:report", "tz": "Europe/Paris"}
    assert "north" in out.logs and "south" in out.logs, "the %sql cell is displayed"
