"""Pieces of the local cluster that need no subprocess: paths, notebooks, spark-submit, dbutils, plans."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobclusters.localshim.dbutils import DBUtils, NotebookExit
from jobclusters.localshim.notebook import parse_notebook
from jobclusters.localshim.paths import PathMapper, parse_adls
from jobclusters.localshim.session import INSTALL_HINT, MissingPySparkFinder
from jobclusters.services.cluster import ClusterRequest, InvalidRunRequest
from jobclusters.services.local_cluster_plan import local_master, parse_spark_submit


@pytest.fixture
def mapper(tmp_path: Path) -> PathMapper:
    return PathMapper(tmp_path / "ws", tmp_path / "base")


def test_cloud_paths_map_into_the_workspace(mapper: PathMapper, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    assert mapper.map("dbfs:/mnt/raw/a.csv") == ws / "dbfs/mnt/raw/a.csv"
    assert mapper.map("/dbfs/mnt/raw/a.csv") == ws / "dbfs/mnt/raw/a.csv"
    assert mapper.map("abfss://data@lake.dfs.core.windows.net/raw/s/") == ws / "abfss/lake/data/raw/s"
    assert mapper.map("wasbs://c@acct.blob.core.windows.net/x") == ws / "abfss/acct/c/x"
    assert mapper.map("file:///tmp/x.py") == Path("/tmp/x.py")
    assert mapper.map("jobs/run.py") == tmp_path / "base/jobs/run.py"
    assert mapper.map_value("--date") == "--date" and mapper.map_value("2026-01-01") == "2026-01-01"


def test_adls_uri_parts() -> None:
    location = parse_adls("abfss://container@account.dfs.core.windows.net/dir/file.py")
    assert location is not None
    assert (location.account, location.container, location.path) == ("account", "container", "dir/file.py")
    assert parse_adls("https://example.com/x") is None


def test_workspace_notebook_paths_find_py_files(mapper: PathMapper, tmp_path: Path) -> None:
    notebook = tmp_path / "ws/workspace/Shared/etl.py"
    notebook.parent.mkdir(parents=True)
    notebook.write_text("x = 1\n")
    assert mapper.find_file("/Shared/etl", ("", ".py")) == notebook
    assert mapper.find_file("/Shared/missing", ("", ".py")) is None


def test_notebook_cells_and_magics() -> None:
    text = (
        "# Databricks notebook source\n"
        "# MAGIC %md\n# MAGIC # Title\n\n"
        "# COMMAND ----------\n\nx = 1\n\n"
        "# COMMAND ----------\n\n# MAGIC %sql\n# MAGIC SELECT 1;\n# MAGIC SELECT 2\n\n"
        "# COMMAND ----------\n\n# MAGIC %run ./helpers\n\n"
        "# COMMAND ----------\n\n# MAGIC print('python via magic')\n"
    )
    cells = parse_notebook(text)
    assert [c.kind for c in cells] == ["%md", "python", "%sql", "%run", "%python"]
    assert cells[1].source.strip() == "x = 1"
    assert cells[2].source == "SELECT 1;\nSELECT 2"
    assert cells[3].source == "./helpers"
    assert cells[4].source == "print('python via magic')"


def test_spark_submit_parameters() -> None:
    args = parse_spark_submit(
        [
            "--class",
            "Main",
            "--conf",
            "spark.a=1",
            "--py-files",
            "a.py,b.zip",
            "--verbose",
            "app.py",
            "x",
            "--y",
        ],
        "$.p",
    )
    assert (args.app, args.args, args.conf, args.py_files, args.main_class) == (
        "app.py",
        ["x", "--y"],
        {"spark.a": "1"},
        ["a.py", "b.zip"],
        "Main",
    )
    with pytest.raises(InvalidRunRequest, match="no application file"):
        parse_spark_submit(["--conf", "spark.a=1"], "$.p")
    with pytest.raises(InvalidRunRequest, match="not key=value"):
        parse_spark_submit(["--conf", "oops", "app.py"], "$.p")


@pytest.mark.parametrize(
    ("spec", "master"),
    [
        (None, "local[2]"),
        ({"num_workers": 0}, "local[*]"),
        ({"num_workers": 0, "spark_conf": {"spark.master": "local[*, 4]"}}, "local[*, 4]"),
        ({"num_workers": 1}, "local[1]"),
        ({"num_workers": 8}, "local[2]"),
        ({"autoscale": {"min_workers": 1, "max_workers": 8}}, "local[2]"),
    ],
)
def test_local_master_follows_the_cluster_spec(spec: dict | None, master: str) -> None:
    cluster = None if spec is None else ClusterRequest.model_validate(spec)
    assert local_master(cluster, cores=2) == master


def test_dbutils_widgets_task_values_fs_and_exit(mapper: PathMapper, tmp_path: Path) -> None:
    first = DBUtils(params={"date": "2026-01-15"}, run_dir=tmp_path / "run", task_key="a", mapper=mapper)
    second = DBUtils(params={}, run_dir=tmp_path / "run", task_key="b", mapper=mapper)
    first.widgets.text("region", "all")
    assert first.widgets.get("date") == "2026-01-15" and first.widgets.get("region") == "all"
    with pytest.raises(ValueError, match="missing"):
        first.widgets.get("missing")
    first.jobs.taskValues.set("rows", 10)
    assert second.jobs.taskValues.get(taskKey="a", key="rows") == 10
    assert second.jobs.taskValues.get(taskKey="a", key="nope", default=0) == 0
    with pytest.raises(ValueError, match="no task value"):
        second.jobs.taskValues.get(taskKey="a", key="nope")
    with pytest.raises(TypeError, match="JSON-serializable"):
        first.jobs.taskValues.set("bad", object())
    first.fs.put("dbfs:/tmp/note.txt", "hello")
    assert first.fs.head("dbfs:/tmp/note.txt") == "hello"
    assert [f["name"] for f in first.fs.ls("dbfs:/tmp")] == ["note.txt"]
    first.fs.cp("dbfs:/tmp/note.txt", "dbfs:/tmp2/copy.txt")
    assert first.fs.rm("dbfs:/tmp", recurse=True) and not mapper.map("dbfs:/tmp").exists()
    with pytest.raises(NotebookExit) as done:
        first.notebook.exit(5)
    assert done.value.value == "5"


def test_missing_pyspark_import_says_how_to_install() -> None:
    with pytest.raises(ModuleNotFoundError, match="requirements-spark.txt"):
        MissingPySparkFinder().find_spec("pyspark.sql", None)
    assert MissingPySparkFinder().find_spec("json", None) is None
    assert "Java 17" in INSTALL_HINT
