"""`python -m jobclusters.localshim.driver <driver.json>`: the long-lived Spark driver of a warm local
cluster (a run's job cluster, an existing cluster, a Spark pool).

It starts the cluster's SparkContext (master and `spark_conf` of the cluster) and its SQL engine, runs one
tiny query so the first task does not pay for warming up, then publishes its Py4J gateway (port and
secret, in a file only the owner can read) for the task processes to attach to, each with its own
`SparkSession` (`session.py`). Its standard input is its lifeline and its control channel: a line
`cancel <job group>` cancels that task's Spark jobs, the running ones and any it submits later (the task's
process is killed just before, but a job it asked for in its last instant can reach the scheduler after
the cancel); end of input (the service closed it, or the host died) stops the driver.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any


def start(spec: dict[str, Any]) -> Any:
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.master(spec["master"]).appName(spec["app_name"])
    for key, value in spec["conf"].items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.range(1).selectExpr("count(*)").collect()
    return spark


def publish(spark: Any, path: Path) -> None:
    gateway = spark.sparkContext._gateway
    info = {
        "port": gateway.java_gateway_server.getListeningPort(),
        "secret": gateway.gateway_parameters.auth_token,
        "pid": os.getpid(),
    }
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(info, out)
    os.replace(tmp, path)


def serve(spark: Any) -> None:
    for line in sys.stdin:
        command, _, argument = line.strip().partition(" ")
        if command == "cancel" and argument:
            spark.sparkContext._jsc.sc().cancelJobGroupAndFutureJobs(argument, "the task was canceled")


def main(argv: list[str]) -> int:
    spec = json.loads(Path(argv[1]).read_text())
    spark = start(spec)
    publish(spark, Path(spec["gateway_file"]))
    print(f"warm cluster {spec['key']} ready", flush=True)
    try:
        serve(spark)
    finally:
        spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
