"""Every job definition shipped under `examples/` is one users can validate and run as it stands.

`examples/seed/` is left out: its inline secrets are reported on purpose (see test_cli.py).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SUFFIXES = {".json", ".yaml", ".yml"}


def _job_files() -> list[Path]:
    return sorted(
        path
        for path in EXAMPLES.rglob("*")
        if path.suffix in SUFFIXES and EXAMPLES / "seed" not in path.parents
    )


def test_every_example_job_definition_outside_the_seed_validates_with_exit_0() -> None:
    files = _job_files()
    assert EXAMPLES / "spark-standard-job" / "job.json" in files
    done = subprocess.run(
        [sys.executable, "-m", "jobclusters", "validate", *map(str, files)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    for path in files:
        assert f"{path}: ok" in done.stdout, done.stdout
