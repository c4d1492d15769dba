"""The Spark class archive `make` builds is one a local driver JVM really maps (`-Xshare:on` makes the JVM
refuse to start otherwise), and the driver options name it only when it exists."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from jobclusters.localshim import class_archive
from jobclusters.localshim.class_archive import ARCHIVE, BASE_JAVA_OPTIONS, driver_java_options

SESSION = """
import sys
from pyspark.sql import SparkSession
spark = (
    SparkSession.builder.master("local[1]")
    .config("spark.ui.enabled", "false")
    .config("spark.driver.host", "127.0.0.1")
    .config("spark.driver.bindAddress", "127.0.0.1")
    .config("spark.driver.extraJavaOptions", sys.argv[1])
    .getOrCreate()
)
print("rows", spark.range(5).count())
"""


@pytest.mark.spark
@pytest.mark.skipif(importlib.util.find_spec("pyspark") is None, reason="pyspark is not installed")
@pytest.mark.skipif(shutil.which("java") is None, reason="java is not installed")
def test_the_archive_built_at_setup_is_mapped_by_a_local_driver() -> None:
    assert ARCHIVE.is_file(), f"`make` builds {ARCHIVE} after installing PySpark"
    options = driver_java_options()
    assert f"-XX:SharedArchiveFile={ARCHIVE}" in options

    done = subprocess.run(
        [sys.executable, "-c", SESSION, f"{options} -Xshare:on"],
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert done.returncode == 0 and "rows 5" in done.stdout, done.stderr[-3000:]


def test_without_an_archive_the_driver_gets_the_base_options(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(class_archive, "ARCHIVE", tmp_path / "absent.jsa")
    assert driver_java_options() == BASE_JAVA_OPTIONS
