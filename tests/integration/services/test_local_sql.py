"""A sql_task on the local cluster: its statements through Spark SQL (a JVM: a few seconds), with named
parameters; the rows in the task's log; a failing statement fails the task with Spark's message."""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobclusters.services.cluster import ResultState, parse_run_request
from jobclusters.services.local_cluster import LocalClusterJobService

pytestmark = [
    pytest.mark.spark,
    pytest.mark.skipif(importlib.util.find_spec("pyspark") is None, reason="pyspark is not installed"),
    pytest.mark.skipif(shutil.which("java") is None, reason="java is not installed"),
]

SQL = """
-- a view, then a query with a named parameter; the ';' inside the string is not a separator
CREATE OR REPLACE TEMP VIEW sales AS
  SELECT * FROM VALUES ('north', 3), ('south', 4), ('north', 5) AS t(region, n);
SELECT region, SUM(n) AS total, 'a;b' AS note FROM sales WHERE region = :region GROUP BY region;
"""


@pytest.fixture
def svc(tmp_path: Path) -> Iterator[LocalClusterJobService]:
    service = LocalClusterJobService(tmp_path / "state", max_local_cores=1)
    yield service
    service.close(wait=False)


def test_a_sql_file_runs_on_spark_sql_with_its_parameters(
    svc: LocalClusterJobService, tmp_path: Path
) -> None:
    (tmp_path / "report.sql").write_text(SQL)
    tasks = [
        {"task_key": "report", "sql_task": {"file": "report.sql", "parameters": {"region": "north"}}},
        {"task_key": "broken", "sql_task": {"query_text": "SELECT * FROM no_such_table"}},
    ]
    handle = svc.submit(
        parse_run_request({"run_id": "sql-1", "tasks": tasks, "base_dir": str(tmp_path)}), "sql-1"
    )
    state = svc.wait(handle, 240.0)
    report, broken = svc.get_output(handle).task("report"), svc.get_output(handle).task("broken")
    results = {t.task_key: t.result for t in state.tasks}
    assert results == {"report": ResultState.SUCCESS, "broken": ResultState.FAILED}, report.logs[-2000:]
    assert "region | total | note\nnorth | 8 | a;b" in report.logs
    assert broken.error is not None and "no_such_table" in broken.error
