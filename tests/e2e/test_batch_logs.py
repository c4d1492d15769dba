"""A Batch task's stdout/stderr are uploaded by Batch's own output files, so `logs` still shows them after
the on-demand pool (and every task directory on its nodes) is gone."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import AppHost, batch_job

pytestmark = pytest.mark.integration


def _node_copies(state_dir: Path, marker: str) -> list[Path]:
    return [p for p in state_dir.rglob("std*.txt") if marker in p.read_text(errors="replace")]


def test_logs_of_a_fanned_out_batch_task_come_from_blobs_after_its_pool_is_deleted(app_host: AppHost) -> None:
    client = app_host.client
    definition = batch_job(
        "logs-after-pool",
        {
            "split": "python3 -c \"import sys; print('out-of-{{input}}'); "
            "sys.stderr.write('err-of-{{input}}'); sys.exit(3 if '{{input}}' == 'b' else 0)\""
        },
    )
    definition["tasks"][0]["payload"]["fan_out"] = {"items": ["a", "b"]}
    job = client.register_job(definition)
    run_id = client.start_job(job["job_id"])["run_id"]
    view = app_host.wait_run_done(run_id)
    assert view["result"] == "FAILED" and view["tasks"]["split"]["state"] == "FAILED"
    assert not _node_copies(app_host.state_dir, "out-of-b"), "the on-demand pool's task folders are gone"

    logs = client.task_logs(run_id, "split")
    (attempt,) = logs["attempts"]
    links = attempt["links"]
    assert links["stdout.txt"].startswith("http") and "/jobclusters-batch-logs/" in links["stdout.txt"]
    assert "/split/attempt-1/" in links["stdout.txt"]
    assert "?" not in links["stdout.txt"]
    # the first failed Batch task is the one the row names
    assert attempt["logs"]["stdout.txt"].strip() == "out-of-b"
    assert attempt["logs"]["stderr.txt"] == "err-of-b"
    assert links["all tasks"].endswith("/split/attempt-1/")
