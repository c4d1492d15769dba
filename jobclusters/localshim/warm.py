"""A task's own SparkSession on the warm driver of its cluster (`driver.py`), as Databricks gives each
task on a shared cluster its own session: the cluster's `spark_conf` holds for every task, while temp
views, SQL settings and UDFs stay the task's. The task's Spark jobs carry its job group, so a cancel or
timeout of the task cancels them and nothing else.

A task whose settings only a new driver can take (driver memory, jars, static SQL settings: anything
neither equal to the cluster's nor changeable on a session) gets a fresh JVM of its own, and its log says
why. So does a task whose cluster did not come up.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

#: where the driver publishes its gateway (set by the local cluster for tasks on a warm cluster)
GATEWAY_ENV = "JOBCLUSTERS_WARM_GATEWAY"
#: the task's Spark job group, which the service cancels with the task
JOB_GROUP_ENV = "JOBCLUSTERS_SPARK_JOB_GROUP"
#: how long a task waits for its cluster's driver to come up
DRIVER_START_SECONDS = 180.0
#: the keys a task may not change on a shared driver (they are read when a driver starts)
_DRIVER_LEVEL = (
    "spark.driver.",
    "spark.executor.",
    "spark.jars",
    "spark.files",
    "spark.archives",
    "spark.submit.",
    "spark.local.dir",
    "spark.memory.",
    "spark.serializer",
    "spark.kryo",
    "spark.default.parallelism",
    "spark.python.",
    "spark.pyspark.",
    "spark.sql.extensions",
    "spark.sql.warehouse.dir",
    "spark.sql.catalogImplementation",
)
_IGNORED = ("spark.master", "spark.app.name")

_attached: Any = None


def note(text: str) -> None:
    print(f"[local cluster] {text}", file=sys.stderr, flush=True)


def on_warm_cluster() -> bool:
    return bool(os.environ.get(GATEWAY_ENV))


def leave_warm_cluster(reason: str) -> None:
    """From here on this process starts its own driver (the ordinary local session)."""
    os.environ.pop(GATEWAY_ENV, None)
    os.environ.pop("PYSPARK_GATEWAY_PORT", None)
    os.environ.pop("PYSPARK_GATEWAY_SECRET", None)
    note(f"{reason}: this task runs on a fresh driver JVM of its own")


def _gateway_info(path: Path) -> dict[str, Any] | None:
    deadline = time.monotonic() + DRIVER_START_SECONDS
    while time.monotonic() < deadline:
        try:
            return dict(json.loads(path.read_text()))
        except (OSError, ValueError):
            time.sleep(0.05)
    return None


def needs_own_driver(key: str) -> bool:
    return key.startswith(_DRIVER_LEVEL)


def attached_session(wanted: Mapping[str, Any]) -> Any:
    """This task's session on the warm driver, or None when the task needs a driver of its own (the
    reason is in its log). `wanted`: the task's settings (its cluster's, its own, its builder's)."""
    global _attached
    if _attached is not None:
        _apply(_attached, wanted)
        return _attached
    info = _gateway_info(Path(os.environ[GATEWAY_ENV]))
    if info is None:
        leave_warm_cluster("the warm cluster's driver did not come up")
        return None
    os.environ["PYSPARK_GATEWAY_PORT"] = str(info["port"])
    os.environ["PYSPARK_GATEWAY_SECRET"] = str(info["secret"])
    from pyspark import SparkContext
    from pyspark.java_gateway import launch_gateway
    from pyspark.sql import SparkSession

    gateway = launch_gateway()
    jvm = gateway.jvm
    jsc = jvm.org.apache.spark.api.java.JavaSparkContext.fromSparkContext(
        jvm.org.apache.spark.SparkContext.getOrCreate()
    )
    cluster = {str(pair._1()): str(pair._2()) for pair in jsc.getConf().getAll()}
    jsession = jvm.org.apache.spark.sql.SparkSession.builder().getOrCreate().newSession()
    own: dict[str, str] = {}
    fresh: list[str] = []
    for key, value in wanted.items():
        if key in _IGNORED or cluster.get(key) == str(value):
            continue
        if needs_own_driver(key) or not jsession.conf().isModifiable(key):
            fresh.append(key)
        else:
            own[key] = str(value)
    if fresh:
        gateway.close()
        leave_warm_cluster(f"it sets {', '.join(sorted(fresh))}, which a shared driver cannot change")
        return None
    context = SparkContext(gateway=gateway, jsc=jsc)
    context.environment["PYTHONPATH"] = os.environ.get("PYTHONPATH", "")
    group = os.environ.get(JOB_GROUP_ENV)
    if group:
        context.setJobGroup(group, f"local cluster task {group}", interruptOnCancel=True)
    spark = SparkSession(context, jsparkSession=jsession)
    for key, value in own.items():
        spark.conf.set(key, value)
    _keep_cluster_running(spark)
    SparkSession._instantiatedSession = spark
    SparkSession._activeSession = spark
    _attached = spark
    return spark


def _apply(spark: Any, wanted: Mapping[str, Any]) -> None:
    """A later `getOrCreate` with more settings: session ones apply, driver ones cannot (noted)."""
    for key, value in wanted.items():
        if key in _IGNORED or spark.conf.get(key, None) == str(value):
            continue
        if needs_own_driver(key) or not spark.conf.isModifiable(key):
            note(f"{key} cannot change on the running shared driver; it is left as the cluster has it")
        else:
            spark.conf.set(key, str(value))


def _keep_cluster_running(spark: Any) -> None:
    """A task ends its session, never the cluster other tasks share."""

    def stop() -> None:
        note("stop() on a shared cluster ends this task's session only")

    spark.stop = stop
    spark.sparkContext.stop = stop
