"""A small local `dbutils`: the parts seed-style jobs use (widgets, task values, fs, notebook.exit).

Task values live in `<run_dir>/task_values/<task_key>.json`, so a later task of the same run reads what an
earlier one set, as `dbutils.jobs.taskValues.get(taskKey=..., key=...)` does on Databricks.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import shutil
import sys
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jobclusters.localshim.paths import PathMapper

_MISSING: Any = object()


class NotebookExit(BaseException):
    """Raised by `dbutils.notebook.exit` to end the notebook successfully with a value."""

    def __init__(self, value: str) -> None:
        super().__init__(value)
        self.value = value


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
    os.replace(tmp, path)


class Widgets:
    def __init__(self, params: Mapping[str, str]) -> None:
        self._params = dict(params)
        self._defaults: dict[str, str] = {}

    def get(self, name: str) -> str:
        if name in self._params:
            return self._params[name]
        if name in self._defaults:
            return self._defaults[name]
        raise ValueError(f"InputWidgetNotDefined: no widget or job parameter named {name!r}")

    getArgument = get

    def getAll(self) -> dict[str, str]:
        return {**self._defaults, **self._params}

    def text(self, name: str, defaultValue: str = "", label: str | None = None) -> None:
        self._defaults[name] = defaultValue

    def dropdown(self, name: str, defaultValue: str, choices: list[str], label: str | None = None) -> None:
        self._defaults[name] = defaultValue

    combobox = dropdown

    def remove(self, name: str) -> None:
        self._defaults.pop(name, None)

    def removeAll(self) -> None:
        self._defaults.clear()


class TaskValues:
    def __init__(self, run_dir: Path, task_key: str) -> None:
        self._dir = run_dir / "task_values"
        self._task_key = task_key

    def _load(self, task_key: str) -> dict[str, Any]:
        path = self._dir / f"{task_key}.json"
        return json.loads(path.read_text()) if path.is_file() else {}

    def set(self, key: str, value: Any) -> None:
        try:
            json.dumps(value)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"task value {key!r} must be JSON-serializable: {exc}") from None
        values = self._load(self._task_key)
        values[key] = value
        _write_json(self._dir / f"{self._task_key}.json", values)

    def get(
        self,
        taskKey: str,
        key: str,
        default: Any = _MISSING,
        debugValue: Any = _MISSING,
    ) -> Any:
        values = self._load(taskKey)
        if key in values:
            return values[key]
        if default is not _MISSING:
            return default
        raise ValueError(f"no task value {key!r} was set by task {taskKey!r} in this run")


class Jobs:
    def __init__(self, run_dir: Path, task_key: str) -> None:
        self.taskValues = TaskValues(run_dir, task_key)


class Notebook:
    def exit(self, value: Any) -> None:
        raise NotebookExit(str(value))


class Fs:
    """`dbutils.fs` over the mapped local workspace."""

    def __init__(self, mapper: PathMapper) -> None:
        self._mapper = mapper

    def _p(self, path: str) -> Path:
        return self._mapper.map(path)

    def ls(self, path: str) -> list[dict[str, Any]]:
        root = self._p(path)
        items = sorted(root.iterdir()) if root.is_dir() else [root]
        return [
            {
                "path": f"{path.rstrip('/')}/{p.name}" if root.is_dir() else path,
                "name": p.name,
                "size": p.stat().st_size if p.is_file() else 0,
                "isDir": p.is_dir(),
            }
            for p in items
        ]

    def mkdirs(self, path: str) -> bool:
        self._p(path).mkdir(parents=True, exist_ok=True)
        return True

    def put(self, path: str, contents: str, overwrite: bool = False) -> bool:
        target = self._p(path)
        if target.exists() and not overwrite:
            raise FileExistsError(f"{path} exists; pass overwrite=True")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(contents)
        return True

    def head(self, path: str, maxBytes: int = 65536) -> str:
        with open(self._p(path), "rb") as handle:
            return handle.read(maxBytes).decode("utf-8", errors="replace")

    def cp(self, source: str, dest: str, recurse: bool = False) -> bool:
        src, dst = self._p(source), self._p(dest)
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            if not recurse:
                raise IsADirectoryError(f"{source} is a directory; pass recurse=True")
            shutil.copytree(src, dst, dirs_exist_ok=True)
        else:
            shutil.copy2(src, dst)
        return True

    def mv(self, source: str, dest: str, recurse: bool = False) -> bool:
        dst = self._p(dest)
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(self._p(source)), str(dst))
        return True

    def rm(self, path: str, recurse: bool = False) -> bool:
        target = self._p(path)
        if target.is_dir():
            if not recurse:
                raise IsADirectoryError(f"{path} is a directory; pass recurse=True")
            shutil.rmtree(target)
            return True
        if target.exists():
            target.unlink()
            return True
        return False


class DBUtils:
    def __init__(
        self, *, params: Mapping[str, str], run_dir: Path, task_key: str, mapper: PathMapper
    ) -> None:
        self.widgets = Widgets(params)
        self.jobs = Jobs(run_dir, task_key)
        self.fs = Fs(mapper)
        self.notebook = Notebook()


def install_runtime_modules(dbutils: DBUtils, spark: Any, display: Any) -> None:
    """The documented ways a Python file written for Databricks reaches `dbutils` besides the notebook
    global: `from databricks.sdk.runtime import dbutils` (also `spark`, `display`) and
    `from pyspark.dbutils import DBUtils; DBUtils(spark)`. Both give this run's `dbutils`, whether or not
    databricks-sdk is installed (its own runtime module would look for a workspace). They are served when
    imported, never before: importing the SDK takes over a second, which a task that does not use it
    should not pay."""
    runtime = types.ModuleType("databricks.sdk.runtime")
    runtime.dbutils = dbutils  # type: ignore[attr-defined]
    runtime.spark = spark  # type: ignore[attr-defined]
    runtime.display = display  # type: ignore[attr-defined]
    shim = types.ModuleType("pyspark.dbutils")

    def from_spark(_spark: Any = None) -> DBUtils:
        return dbutils

    shim.DBUtils = from_spark  # type: ignore[attr-defined]
    sys.meta_path.insert(0, _RuntimeModules({runtime.__name__: runtime, shim.__name__: shim}))


class _RuntimeModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serves the given modules by name, and empty `databricks` / `databricks.sdk` packages where the SDK
    is not installed (so the runtime module's parents import)."""

    _PARENTS = ("databricks", "databricks.sdk")

    def __init__(self, modules: dict[str, types.ModuleType]) -> None:
        self._modules = modules

    def find_spec(
        self, fullname: str, path: Any, target: Any = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname in self._modules:
            return importlib.util.spec_from_loader(fullname, self)
        if fullname in self._PARENTS and importlib.machinery.PathFinder.find_spec(fullname, path) is None:
            return importlib.util.spec_from_loader(fullname, self, is_package=True)
        return None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        return self._modules.get(spec.name) or types.ModuleType(spec.name)

    def exec_module(self, module: types.ModuleType) -> None:
        if module.__name__ in self._PARENTS:
            module.__path__ = []
