"""A class-data-sharing archive of the classes a local Spark driver loads, so the next drivers start faster.

A local Spark task's driver JVM spends most of its first seconds loading and verifying Spark's classes (a
session and a first query took 6-9 s on 2 cores). A dynamic CDS archive holds them pre-parsed; with it a
driver maps them in, and a session plus a first query take about 40% less time, with no cost later in the
run (unlike a lower JIT tier). The archive is built once per environment, at setup (`make` runs
`python -m jobclusters.localshim.class_archive` after installing PySpark), by a small local job that
loads what typical jobs use (SQL, CSV, a join, an aggregate, a write). It belongs to the interpreter's
environment because it is valid only for its PySpark jars; a JVM that finds it stale (another JDK) just
ignores it, and a missing one changes nothing.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ARCHIVE = Path(sys.prefix) / "share" / "jobclusters" / "spark-classes.jsa"
#: the driver JVM's options for local runs, which are short: a C1-only JIT and the serial GC start it
#: ~40% faster on 2 cores (the archive is built with them, so it matches)
BASE_JAVA_OPTIONS = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"

_WORKLOAD = """
import sys
from pathlib import Path
from pyspark.sql import SparkSession, functions as F
folder = Path(sys.argv[1])
spark = (
    SparkSession.builder.master("local[2]")
    .config("spark.ui.enabled", "false")
    .config("spark.driver.extraJavaOptions", sys.argv[2])
    .config("spark.driver.host", "127.0.0.1")
    .config("spark.driver.bindAddress", "127.0.0.1")
    .getOrCreate()
)
(folder / "in.csv").write_text("k,v\\na,1\\nb,2\\na,3\\n")
rows = spark.read.option("header", True).option("inferSchema", True).csv(str(folder / "in.csv"))
names = spark.createDataFrame([("a", "x"), ("b", "y")], ["k", "name"])
out = rows.join(F.broadcast(names), "k").groupBy("name").agg(F.sum("v").alias("s")).orderBy("name")
out.coalesce(1).write.mode("overwrite").csv(str(folder / "out"), header=True)
assert [r.s for r in out.collect()] == [4, 2]
spark.sql("SELECT 1 AS one").collect()
spark.stop()
"""


def driver_java_options() -> str:
    """The driver JVM options for local Spark: the base ones, and the class archive when it was built."""
    if ARCHIVE.is_file():
        return f"{BASE_JAVA_OPTIONS} -XX:SharedArchiveFile={ARCHIVE}"
    return BASE_JAVA_OPTIONS


def build(archive: Path = ARCHIVE) -> str:
    """Run the workload with the JVM dumping its loaded classes at exit; the archive replaces the old one
    only when complete. Returns what happened, for the setup's output."""
    archive.parent.mkdir(parents=True, exist_ok=True)
    partial = archive.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    options = f"{BASE_JAVA_OPTIONS} -XX:ArchiveClassesAtExit={partial}"
    with tempfile.TemporaryDirectory(prefix="jobclusters-cds-") as folder:
        done = subprocess.run(
            [sys.executable, "-c", _WORKLOAD, folder, options],
            capture_output=True,
            text=True,
            env={**os.environ, "PYSPARK_PYTHON": sys.executable},
            timeout=600,
        )
    if done.returncode != 0 or not partial.is_file():
        partial.unlink(missing_ok=True)
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return f"the Spark class archive was not built (local Spark starts without it): {last}"
    os.replace(partial, archive)
    return f"the Spark class archive is {archive} ({archive.stat().st_size // 2**20} MiB)"


def main() -> int:
    from jobclusters.localshim.session import pyspark_available

    if not pyspark_available():
        print("PySpark is not installed: no Spark class archive to build")
        return 0
    print(build())
    return 0


if __name__ == "__main__":
    sys.exit(main())
