"""The demo pipeline's definition and its plain-Python steps (the Spark step runs in `make demo`)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

from jobclusters.spec import load_definition
from tests.e2e.conftest import PROJECT_DIR

EXAMPLE = PROJECT_DIR / "examples" / "daily-sales"


def sample_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "make_sample_data", EXAMPLE / "scripts" / "make_sample_data.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def script(name: str, *args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(EXAMPLE / "scripts" / name), *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_pipeline_definition_is_valid_and_starts_on_the_batch_manifest() -> None:
    result = load_definition(EXAMPLE / "job.yaml")
    assert result.ok, result.errors
    job = result.require()
    assert [t.key for t in job.tasks] == ["validate", "clean", "transform", "quality_check", "publish"]
    assert job.triggers[0].kind == "storage_event" and job.triggers[0].suffix == "/_READY"


def test_validation_and_cleaning_work_on_the_generated_files(tmp_path: Path) -> None:
    batch = tmp_path / "in" / "daily-sales" / "b1"
    manifest = sample_module().generate(batch, days=2, rows=50)
    assert script("validate.py", batch, cwd=tmp_path).returncode == 0

    cleaned = script(
        "clean_day.py", f"incoming/daily-sales/b1/{manifest['files'][0]}", "in", "out", "lake", cwd=tmp_path
    )
    assert cleaned.returncode == 0, cleaned.stderr
    assert "kept 50 rows, dropped 3" in cleaned.stdout  # a duplicate, a malformed and a test order
    assert (tmp_path / "lake" / f"cleaned-{manifest['files'][0]}").is_file()

    (batch / manifest["files"][1]).write_text("wrong,header\n")
    broken = script("validate.py", batch, cwd=tmp_path)
    assert broken.returncode == 1 and "header" in broken.stderr
