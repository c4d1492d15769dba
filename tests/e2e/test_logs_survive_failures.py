"""A task's logs survive each way it can fail (issue 11 defect 4): an output file whose upload fails, a
timeout, a cancel. Each run ends with its on-demand pool deleted (so with every folder on its nodes), and
the logs are read back through `jobclusters logs` and the logs API, each link from Azurite itself."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from azure.storage.blob import BlobServiceClient

from tests.e2e.conftest import AppHost, batch_job, blob_text
from tests.e2e.test_cli import cli
from tests.eventually import eventually

pytestmark = pytest.mark.integration



def _on_nodes(state_dir: Path, marker: str) -> list[Path]:
    return [p for p in state_dir.rglob("std*.txt") if marker in p.read_text(errors="replace")]


def _check_logs(app_host: AppHost, run_id: str, marker: str) -> dict[str, Any]:
    """Once the attempt has ended (a canceled run ends before its tasks' attempts do), its stdout/stderr
    links hold what the task printed, and `logs` shows it."""
    eventually(lambda: _ended_attempts(app_host, run_id), timeout=60, what="the attempt to end")
    assert not _on_nodes(app_host.state_dir, f"out-{marker}"), "the pool's folders are gone"
    (attempt,) = _ended_attempts(app_host, run_id)
    links = attempt["links"]
    assert blob_text(app_host.connection, links["stdout.txt"]) == f"out-{marker}\n"
    assert blob_text(app_host.connection, links["stderr.txt"]) == f"err-{marker}\n"
    printed = cli(app_host, "logs", run_id, "work")
    assert printed.returncode == 0, printed.stderr
    assert f"----- stdout.txt\nout-{marker}\n" in printed.stdout
    assert f"----- stderr.txt\nerr-{marker}\n" in printed.stdout
    return attempt


def _ended_attempts(app_host: AppHost, run_id: str) -> list[dict[str, Any]]:
    attempts = list(app_host.client.task_logs(run_id, "work")["attempts"])
    return attempts if attempts and all(a["state"] != "RUNNING" for a in attempts) else []


def _command(marker: str, then: str) -> str:
    return f"echo out-{marker}; echo err-{marker} >&2; {then}"


def test_a_failed_output_upload_keeps_the_logs_and_the_run_names_it(app_host: AppHost) -> None:
    account = BlobServiceClient.from_connection_string(app_host.connection).url.rstrip("/")
    definition = batch_job("logs-upload-fails", {"work": _command("upload", "echo r > result.txt")})
    definition["tasks"][0]["payload"]["output_files"] = [
        {"file_pattern": "result.txt", "container_url": f"{account}/Bad_Container"}
    ]
    job = app_host.client.register_job(definition)
    run_id = app_host.client.start_job(job["job_id"])["run_id"]
    view = app_host.wait_run_done(run_id)
    assert view["result"] == "FAILED"
    message = view["tasks"]["work"]["message"]
    assert "outputFiles[1] (result.txt) upload failed" in message, message
    attempt = _check_logs(app_host, run_id, "upload")
    assert "outputFiles[1] (result.txt) upload failed" in (attempt["error_message"] or "")


def test_a_timed_out_task_keeps_its_logs(app_host: AppHost) -> None:
    definition = batch_job("logs-timeout", {"work": _command("timeout", "sleep 120")})
    definition["tasks"][0]["timeout_seconds"] = 3
    job = app_host.client.register_job(definition)
    run_id = app_host.client.start_job(job["job_id"])["run_id"]
    assert app_host.wait_run_done(run_id)["result"] == "TIMEDOUT"
    _check_logs(app_host, run_id, "timeout")


def test_a_canceled_task_keeps_its_logs(app_host: AppHost, tmp_path: Path) -> None:
    started = tmp_path / "started"
    definition = batch_job("logs-cancel", {"work": _command("cancel", f"touch {started}; sleep 120")})
    job = app_host.client.register_job(definition)
    run_id = app_host.client.start_job(job["job_id"])["run_id"]
    eventually(started.exists, timeout=60, what="the task to start")
    app_host.client.cancel_run(run_id, "testing")
    assert app_host.wait_run_done(run_id)["result"] == "CANCELED"
    _check_logs(app_host, run_id, "cancel")
