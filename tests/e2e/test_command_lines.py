"""A `command` task runs its command line exactly as `/bin/sh -c` would, with the job's files beside it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.e2e.conftest import AppHost, batch_job
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


def test_a_tasks_exit_code_shows_in_run_json_status_the_api_and_its_rows(
    app_host: AppHost, tmp_path: Path
) -> None:
    job = write_job(tmp_path, "cmd-exit-codes", {"ok": "true", "fails": "exit 7"})
    result = cli(app_host, "run", str(job), "--json")
    last = json.loads(result.stdout.strip().splitlines()[-1])
    run_id = last["run_id"]
    assert last["tasks"]["ok"]["exit_code"] == 0 and last["tasks"]["fails"]["exit_code"] == 7
    status = json.loads(cli(app_host, "status", run_id, "--json").stdout)
    assert status["tasks"]["fails"]["exit_code"] == 7
    view = app_host.client.get_run(run_id)
    assert view["tasks"]["ok"]["exit_code"] == 0 and view["tasks"]["fails"]["exit_code"] == 7
    assert [a["exit_code"] for a in view["tasks"]["fails"]["attempt_history"]][-1] == 7
    rows = app_host.client.task_logs(run_id, "fails")["attempts"]
    assert rows[-1]["exit_code"] == 7 and "exit code 7" in rows[-1]["error_message"]


def test_a_fan_out_shows_its_first_failed_inputs_exit_code(app_host: AppHost, tmp_path: Path) -> None:
    definition = batch_job("cmd-fanout-exit", {"each": "exit {{input}}"})
    definition["tasks"][0]["payload"]["fan_out"] = {"items": ["0", "5", "0"]}
    job = tmp_path / "fanout.yaml"
    job.write_text(yaml.safe_dump(definition), encoding="utf-8")
    last = json.loads(cli(app_host, "run", str(job), "--json").stdout.strip().splitlines()[-1])
    assert last["tasks"]["each"]["state"] == "FAILED" and last["tasks"]["each"]["exit_code"] == 5
