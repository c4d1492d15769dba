"""A Python file written for Databricks gets this run's `dbutils` the documented ways: the global,
`from databricks.sdk.runtime import dbutils`, and `DBUtils(spark)` from `pyspark.dbutils` (run as the local
cluster runs it, in its own process; no Spark session is started)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = """\
from databricks.sdk.runtime import dbutils as from_sdk, spark as sdk_spark
from pyspark.dbutils import DBUtils

assert from_sdk is dbutils, "databricks.sdk.runtime.dbutils is the run's dbutils"
assert DBUtils(spark) is dbutils, "pyspark.dbutils.DBUtils(spark) is the run's dbutils"
assert sdk_spark is spark
from_sdk.jobs.taskValues.set(key="day", value=from_sdk.widgets.get("day"))
"""


def _run_as_the_local_cluster(tmp_path: Path, source: str) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "job.py"
    script.write_text(source)
    spec = {
        "workspace_dir": str(tmp_path / "ws"),
        "base_dir": str(tmp_path),
        "spark": {"master": "local[1]", "conf": {}, "app_name": "t"},
        "notebook_params": {"day": "2026-01-01"},
        "run_dir": str(tmp_path / "run"),
        "task_key": "t",
        "kind": "python_file",
        "file": str(script),
        "parameters": [],
        "result_file": str(tmp_path / "result.json"),
    }
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    return subprocess.run(
        [sys.executable, "-m", "jobclusters.localshim.run", str(tmp_path / "spec.json")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_three_ways_to_reach_dbutils_give_the_runs_own(tmp_path: Path) -> None:
    done = _run_as_the_local_cluster(tmp_path, SCRIPT)

    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "result.json").read_text())["status"] == "succeeded"
    values = json.loads((tmp_path / "run" / "task_values" / "t.json").read_text())
    assert values == {"day": "2026-01-01"}


def test_a_task_that_does_not_import_the_sdk_does_not_pay_for_it(tmp_path: Path) -> None:
    """Importing databricks-sdk takes over a second; only a task that asks for it imports it."""
    done = _run_as_the_local_cluster(
        tmp_path, "import sys\nprint('loaded:', sorted(m for m in sys.modules if m.startswith('databricks')))"
    )

    assert done.returncode == 0, done.stderr
    assert "loaded: []" in done.stdout
