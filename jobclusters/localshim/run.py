"""`python -m jobclusters.localshim.run <task.json>`: run one task of the local cluster in this process.

The service writes the task file (what to run, its parameters, the Spark master and conf, the folders)
and reads back `result.json` and the exit code. The job's uncaught exception or non-zero exit decides
failure; `dbutils.notebook.exit(value)` ends a notebook successfully with a result.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import os
import runpy
import sys
import traceback
from pathlib import Path
from typing import Any

from jobclusters.localshim import session
from jobclusters.localshim.dbutils import DBUtils, NotebookExit, install_runtime_modules
from jobclusters.localshim.notebook import run_notebook
from jobclusters.localshim.paths import PathMapper
from jobclusters.localshim.sql import run_sql


def _display(value: Any, *args: Any, **kwargs: Any) -> None:
    show = getattr(value, "show", None)
    if callable(show):
        show(truncate=False)
    else:
        print(value)


def _wheel_entry_point(package: str, name: str) -> Any:
    """As on Databricks: the package's named entry point, else `package.name` called directly."""
    wanted = package.replace("-", "_").lower()
    for dist in importlib.metadata.distributions():
        dist_name = (dist.metadata["Name"] or "").replace("-", "_").lower()
        if dist_name != wanted:
            continue
        for entry in dist.entry_points:
            if entry.name == name:
                return entry.load()
    module = importlib.import_module(package)
    if not hasattr(module, name):
        raise AttributeError(f"package {package!r} has no entry point or function {name!r}")
    return getattr(module, name)


def _write_result(path: Path, result: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(result))
    os.replace(tmp, path)


def execute(spec: dict[str, Any]) -> dict[str, Any]:
    mapper = PathMapper(Path(spec["workspace_dir"]), Path(spec["base_dir"]))
    spark_spec = spec["spark"]
    session.install(spark_spec["master"], spark_spec["conf"], spark_spec["app_name"], mapper)
    dbutils = DBUtils(
        params=spec.get("notebook_params", {}),
        run_dir=Path(spec["run_dir"]),
        task_key=spec["task_key"],
        mapper=mapper,
    )
    spark = session.LazySparkSession()
    install_runtime_modules(dbutils, spark, _display)
    namespace = {"__name__": "__main__", "dbutils": dbutils, "spark": spark, "display": _display}
    kind = spec["kind"]
    if kind == "python_file":
        sys.argv = [spec["file"], *spec["parameters"]]
        sys.path.insert(0, str(Path(spec["file"]).parent))
        runpy.run_path(spec["file"], init_globals={"dbutils": dbutils, "spark": spark}, run_name="__main__")
    elif kind == "wheel":
        named = [f"--{k}={v}" for k, v in spec.get("named_parameters", {}).items()]
        sys.argv = [spec["package_name"], *spec["parameters"], *named]
        _wheel_entry_point(spec["package_name"], spec["entry_point"])()
    elif kind == "notebook":
        notebook = Path(spec["file"])
        sys.argv = [str(notebook)]
        sys.path.insert(0, str(notebook.parent))
        namespace["__file__"] = str(notebook)
        try:
            run_notebook(notebook, namespace)
        except NotebookExit as done:
            return {"status": "succeeded", "notebook_result": done.value}
    elif kind == "sql":
        text = spec.get("sql") or Path(spec["file"]).read_text(encoding="utf-8")
        for row_text in run_sql(spark, text, spec.get("notebook_params", {})):
            print(row_text)
    else:
        raise ValueError(f"unknown task kind {kind!r}")
    return {"status": "succeeded"}


def main(argv: list[str]) -> int:
    spec = json.loads(Path(argv[1]).read_text())
    result_path = Path(spec["result_file"])
    code = 0
    try:
        result = execute(spec)
    except SystemExit as exc:
        if exc.code in (None, 0):
            result = {"status": "succeeded"}
        else:
            code = exc.code if isinstance(exc.code, int) else 1
            detail = "" if isinstance(exc.code, int) else f": {exc.code}"
            result = {"status": "failed", "error": f"the job exited with code {code}{detail}"}
    except BaseException as exc:
        traceback.print_exc()
        code = 1
        result = {
            "status": "failed",
            "error": f"{type(exc).__name__}: {exc}",
            "error_trace": traceback.format_exc(),
        }
    sys.stdout.flush()
    sys.stderr.flush()
    _write_result(result_path, result)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv))
