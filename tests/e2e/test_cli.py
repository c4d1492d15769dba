"""`python -m jobclusters run FILE --json` and friends, as a user runs them, against a real devhost."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.conftest import FUNCTION_KEY, PROJECT_DIR, AppHost, batch_job

pytestmark = pytest.mark.integration


def cli(host: AppHost, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "JOBCLUSTERS_API_URL": host.client.base_url, "JOBCLUSTERS_API_KEY": FUNCTION_KEY}
    return subprocess.run(
        [sys.executable, "-m", "jobclusters", *args],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def write_job(folder: Path, name: str, commands: dict[str, str], **extra: Any) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(batch_job(name, commands, **extra)), encoding="utf-8")
    return path


def test_run_json_prints_the_run_as_its_last_line_and_exits_0_on_success(
    app_host: AppHost, tmp_path: Path
) -> None:
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    (scripts / "hello.py").write_text("import sys\nprint('hello', sys.argv[1])\n")
    job = write_job(
        tmp_path,
        "cli-ok",
        {"greet": "python3 scripts/hello.py {{job.parameters.who}}", "done": "true"},
        parameters=[{"name": "who", "default": "nobody"}],
    )
    result = cli(app_host, "run", str(job), "--param", "who=world", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.strip().splitlines()
    last = json.loads(lines[-1])
    assert last["result"] == "SUCCESS" and last["run_id"].startswith("run-")
    assert set(last["tasks"]) == {"greet", "done"}
    for task in last["tasks"].values():
        assert task["state"] == "SUCCESS" and task["attempts"] == 1 and task["start"] and task["end"]
    assert any("greet" in line and "SUCCESS" in line for line in lines[:-1])  # live progress lines

    status = cli(app_host, "status", last["run_id"], "--json")
    assert status.returncode == 0 and json.loads(status.stdout)["parameters"] == {"who": "world"}


def test_run_exits_1_when_the_run_fails(app_host: AppHost, tmp_path: Path) -> None:
    job = write_job(tmp_path, "cli-fails", {"boom": 'python3 -c "raise SystemExit(3)"'})
    result = cli(app_host, "run", str(job), "--json")
    assert result.returncode == 1
    last = json.loads(result.stdout.strip().splitlines()[-1])
    assert last["result"] == "FAILED" and last["tasks"]["boom"]["state"] == "FAILED"


def test_run_refuses_an_invalid_file_with_json_paths_and_exit_2(app_host: AppHost, tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        yaml.safe_dump(
            {"format": "jobclusters/v1", "name": "bad", "tasks": [{"key": "a", "run_if": "SOMETIMES"}]}
        )
    )
    result = cli(app_host, "run", str(path))
    assert result.returncode == 2
    assert "$.tasks[0].run_if" in result.stderr


def test_runs_lists_what_run_started(app_host: AppHost, tmp_path: Path) -> None:
    job = write_job(tmp_path, "cli-listed", {"only": "true"})
    started = cli(app_host, "run", str(job), "--json")
    run_id = json.loads(started.stdout.strip().splitlines()[-1])["run_id"]
    listed = cli(app_host, "runs", "--job", "cli-listed", "--json")
    assert listed.returncode == 0, listed.stderr
    assert run_id in [r["run_id"] for r in json.loads(listed.stdout)["runs"]]


def test_runs_into_a_closed_pipe_exits_quietly(app_host: AppHost, tmp_path: Path) -> None:
    job = write_job(tmp_path, "cli-piped", {"only": "true"})
    assert cli(app_host, "run", str(job), "--json").returncode == 0
    env = {**os.environ, "JOBCLUSTERS_API_URL": app_host.client.base_url, "JOBCLUSTERS_API_KEY": FUNCTION_KEY}
    read_end, write_end = os.pipe()
    os.close(read_end)  # `runs | head` after head has exited
    try:
        done = subprocess.run(
            [sys.executable, "-m", "jobclusters", "runs"],
            cwd=PROJECT_DIR,
            env=env,
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        os.close(write_end)
    assert done.stderr == "" and done.returncode == 128 + signal.SIGPIPE


def test_runs_and_status_name_the_same_trigger_the_cli(app_host: AppHost, tmp_path: Path) -> None:
    job = write_job(tmp_path, "cli-trigger", {"only": "true"})
    started = cli(app_host, "run", str(job), "--json")
    run_id = json.loads(started.stdout.strip().splitlines()[-1])["run_id"]
    listed = json.loads(cli(app_host, "runs", "--job", "cli-trigger", "--json").stdout)["runs"]
    status = json.loads(cli(app_host, "status", run_id, "--json").stdout)
    assert [r["trigger_kind"] for r in listed if r["run_id"] == run_id] == ["cli"]
    assert status["trigger"]["kind"] == "cli"
    table = cli(app_host, "runs", "--job", "cli-trigger").stdout.splitlines()
    header, row = table[0].split(), next(line for line in table if line.startswith(run_id)).split()
    assert row[header.index("TRIGGER")] == "cli"
    assert "trigger: cli" in cli(app_host, "status", run_id).stdout
