"""A `command` task runs its command line exactly as `/bin/sh -c` would, with the job's files beside it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.conftest import AppHost
from tests.e2e.test_cli import cli, write_job

pytestmark = pytest.mark.integration


def test_a_failing_command_after_and_and_fails_the_task(
    app_host: AppHost, tmp_path: Path
) -> None:
    (tmp_path / "fail.py").write_text("raise SystemExit(3)\n")
    job = write_job(tmp_path, "cmd-false-success", {"chain": "echo start && python3 fail.py"})
    result = cli(app_host, "run", str(job), "--json")
    last = json.loads(result.stdout.strip().splitlines()[-1])
    assert result.returncode == 1, result.stdout + result.stderr
    assert last["result"] == "FAILED"
    assert last["tasks"]["chain"]["state"] == "FAILED"
    assert "exit code 3" in last["tasks"]["chain"]["message"]
    logs = app_host.client.task_logs(last["run_id"], "chain")["attempts"][-1]["logs"]
    assert logs["stdout.txt"] == "start\n"
