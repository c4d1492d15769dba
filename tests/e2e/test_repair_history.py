"""A run repaired twice (fail -> repair, still failing -> fix -> repair, succeeds) keeps its whole history:
every attempt of every generation with log links that resolve to what that attempt printed, the latest
result with the repair count in the HTTP view and `status`, and one row per run in every listing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from jobclusters.tracking.models import RunState
from jobclusters.tracking.table_store import TableRunStore
from tests.e2e.conftest import AppHost, batch_job, blob_text
from tests.e2e.test_cli import cli

pytestmark = pytest.mark.integration

# Prints which try this is (counted in a file beside it), then fails unless the marker file exists.
TRY_SCRIPT = """\
import pathlib, sys
here = pathlib.Path(__file__).parent
tries = here / "tries"
count = len(tries.read_text().split()) + 1 if tries.exists() else 1
tries.write_text(tries.read_text() + " x" if tries.exists() else "x")
print(f"try {count}")
sys.exit(0 if (here / "fixed").exists() else 3)
"""



def _once(runs: list[dict[str, Any]], run_id: str) -> dict[str, Any]:
    (row,) = [r for r in runs if r["run_id"] == run_id]
    return row


def test_a_run_repaired_twice_keeps_every_attempt_and_shows_its_latest_result_once(
    app_host: AppHost, tmp_path: Path
) -> None:
    client = app_host.client
    script = tmp_path / "try.py"
    script.write_text(TRY_SCRIPT, encoding="utf-8")
    job = client.register_job(
        batch_job(
            "repaired-twice",
            {
                "extract": "python3 -c \"print('extract')\"",
                "load": f"python3 {script}",
                "report": "python3 -c \"print('report')\"",
            },
        )
    )
    job_id = job["job_id"]
    run_id = client.start_job(job_id)["run_id"]
    assert app_host.wait_run_done(run_id)["result"] == "FAILED"

    first_repair = client.repair_run(run_id)
    assert app_host.wait_run_done(first_repair["run_id"])["result"] == "FAILED"
    still_failed = app_host.wait_run_done(run_id)
    assert (still_failed["state"], still_failed["repair_count"]) == ("FAILED", 1)

    (tmp_path / "fixed").write_text("ok")
    second_repair = client.repair_run(run_id)
    assert second_repair["repair_number"] == 2
    assert app_host.wait_run_done(second_repair["run_id"])["result"] == "SUCCESS"

    # the run's own view follows the latest repair
    view = app_host.wait_run_done(run_id)
    assert (view["run_id"], view["state"], view["result"], view["repair_count"]) == (
        run_id,
        "SUCCESS",
        "SUCCESS",
        2,
    )
    assert {k: t["state"] for k, t in view["tasks"].items()} == {
        "extract": "SUCCESS",
        "load": "SUCCESS",
        "report": "SUCCESS",
    }
    history = view["tasks"]["load"]["attempt_history"]
    assert [(h["generation"], h["attempt"], h["state"]) for h in history] == [
        (0, 1, "FAILED"),
        (1, 1, "FAILED"),
        (2, 1, "SUCCESS"),
    ]
    assert [h["generation"] for h in view["tasks"]["extract"]["attempt_history"]] == [0]

    # every attempt's log links resolve to what that attempt printed (ground truth: the tries file)
    assert (tmp_path / "tries").read_text().split() == ["x", "x", "x"]
    logs = client.task_logs(run_id, "load")
    assert logs["state"] == "SUCCESS"
    assert [(a["generation"], a["attempt"]) for a in logs["attempts"]] == [(0, 1), (1, 1), (2, 1)]
    stdout_links = [a["links"]["stdout.txt"] for a in logs["attempts"]]
    assert len(set(stdout_links)) == 3
    for number, (attempt, link) in enumerate(zip(logs["attempts"], stdout_links, strict=True), start=1):
        assert blob_text(app_host.connection, link).strip() == f"try {number}"
        assert attempt["logs"]["stdout.txt"].strip() == f"try {number}"
    printed = cli(app_host, "logs", run_id, "load").stdout.splitlines()
    headers = [line for line in printed if line.startswith("--- ")]
    assert headers == [
        "--- attempt 1 (FAILED, exit code 3)",
        "--- attempt 1 of repair 1 (FAILED, exit code 3)",
        "--- attempt 1 of repair 2 (SUCCESS, exit code 0)",
    ]

    # tracking's run record holds the latest generation's result
    record = TableRunStore(app_host.connection, table_prefix=app_host.table_prefix).get_run(run_id)
    assert record is not None and (record.state, record.generation) == (RunState.SUCCESS, 2)

    # status (JSON and text) shows the latest result with the repair count
    status = json.loads(cli(app_host, "status", run_id, "--json").stdout)
    assert (status["state"], status["result"], status["repair_count"]) == ("SUCCESS", "SUCCESS", 2)
    assert status["tasks"]["load"]["state"] == "SUCCESS"
    text = cli(app_host, "status", run_id).stdout
    assert f"run {run_id} of job {job_id}: SUCCESS after 2 repair(s)" in text

    # every listing shows the run once, with its latest state and repair count
    listings = {
        "http by job": client.list_runs(job=job_id)["runs"],
        "http by time": client.list_runs(limit=200)["runs"],
        "cli by job": json.loads(cli(app_host, "runs", "--job", job_id, "--json").stdout)["runs"],
        "cli by time": json.loads(cli(app_host, "runs", "--limit", "200", "--json").stdout)["runs"],
    }
    for name, runs in listings.items():
        row = _once(runs, run_id)
        assert (row["state"], row["repair_count"]) == ("SUCCESS", 2), name
    assert [r["run_id"] for r in listings["http by job"]] == [run_id]
    table = cli(app_host, "runs", "--job", job_id).stdout.splitlines()
    header, *rows = [line.split() for line in table if not line.startswith("-")]
    (only,) = rows
    assert only[header.index("STATE")] == "SUCCESS" and only[header.index("REPAIRS")] == "2"
