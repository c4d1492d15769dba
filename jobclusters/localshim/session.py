"""The local-mode SparkSession a job gets, built from the cluster spec the service passed in.

The job's own `SparkSession.builder...getOrCreate()` keeps working: the patched builder puts the cluster's
master and `spark_conf` under whatever the job configures itself (as a cluster's config sits under a job's
session config on Databricks), and Spark reads/writes of `dbfs:`/`abfss:` paths go to the local workspace.
Nothing starts a JVM until the job asks for a session.
"""

from __future__ import annotations

import atexit
import importlib.abc
import importlib.util
import sys
from collections.abc import Mapping
from typing import Any

from jobclusters.localshim import warm
from jobclusters.localshim.class_archive import driver_java_options
from jobclusters.localshim.paths import PathMapper, is_cloud_path

INSTALL_HINT = (
    "PySpark is not installed in the interpreter that runs local cluster jobs: "
    "install it with `pip install -r requirements-spark.txt` (or `make setup`; it needs Java 17+)"
)
LOCAL_DEFAULTS = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.driver.extraJavaOptions": driver_java_options(),
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
}
_READ_METHODS = ("load", "csv", "parquet", "json", "text", "orc")
_WRITE_METHODS = ("save", "csv", "parquet", "json", "text", "orc")


class MissingPySparkFinder(importlib.abc.MetaPathFinder):
    """Turns `import pyspark` into an error that says how to install it."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname == "pyspark" or fullname.startswith("pyspark."):
            raise ModuleNotFoundError(INSTALL_HINT, name=fullname)
        return None


def pyspark_available() -> bool:
    return importlib.util.find_spec("pyspark") is not None


def _mapped(mapper: PathMapper, value: Any) -> Any:
    if isinstance(value, str) and is_cloud_path(value):
        return str(mapper.map(value))
    if isinstance(value, list | tuple):
        return type(value)(_mapped(mapper, v) for v in value)
    return value


def _wrap_path_method(cls: Any, name: str, mapper: PathMapper) -> None:
    original = getattr(cls, name)

    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        if "path" in kwargs:
            kwargs["path"] = _mapped(mapper, kwargs["path"])
        return original(self, *(_mapped(mapper, a) for a in args), **kwargs)

    wrapper.__wrapped__ = original  # type: ignore[attr-defined]
    setattr(cls, name, wrapper)


def install(master: str, conf: Mapping[str, str], app_name: str, mapper: PathMapper) -> None:
    """Patch PySpark for this process (or make its import fail helpfully when it is missing)."""
    if not pyspark_available():
        sys.meta_path.insert(0, MissingPySparkFinder())
        return
    from pyspark.sql import DataFrameReader, DataFrameWriter, SparkSession

    builder_cls = SparkSession.Builder
    original_get_or_create = builder_cls.getOrCreate

    def get_or_create(self: Any) -> Any:
        options = self._options
        user_set = dict(options)
        if warm.on_warm_cluster():
            session = warm.attached_session({**conf, **user_set})
            if session is not None:
                return session
        for key, value in {**LOCAL_DEFAULTS, **conf}.items():
            if key not in user_set:
                options[key] = value
        options["spark.master"] = master
        if "spark.app.name" not in user_set:
            options["spark.app.name"] = app_name
        return original_get_or_create(self)

    builder_cls.getOrCreate = get_or_create  # type: ignore[method-assign]
    for name in _READ_METHODS:
        _wrap_path_method(DataFrameReader, name, mapper)
    for name in _WRITE_METHODS:
        _wrap_path_method(DataFrameWriter, name, mapper)
    atexit.register(_stop_active_session)


def _stop_active_session() -> None:
    if warm.on_warm_cluster():
        return  # the session ends with the process; the shared driver stays up
    try:
        from pyspark.sql import SparkSession

        session = SparkSession.getActiveSession()
        if session is not None:
            session.stop()
    except Exception:
        pass


class LazySparkSession:
    """The `spark` global of notebooks: a real session, created on first use."""

    def __init__(self) -> None:
        self._session: Any = None

    def _get(self) -> Any:
        if self._session is None:
            from pyspark.sql import SparkSession

            self._session = SparkSession.builder.getOrCreate()
        return self._session

    def __getattr__(self, name: str) -> Any:
        return getattr(self._get(), name)

    def __repr__(self) -> str:
        return "<local SparkSession (lazy)>" if self._session is None else repr(self._session)
