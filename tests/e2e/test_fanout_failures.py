"""A fan-out reports every failed input, and a repair runs only those again (issue 11 defect 5).

Twenty inputs, three of which (by their value) fail with their own exit code. Every one of the three is
reported with its input, exit code and log links in `run --json`, `status`, the HTTP view, the task rows
and `logs`; each link is read back from Azurite. The repair then runs exactly those three again: the
ground truth is the marker file each run of an input appends to.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from jobclusters.tracking.table_store import TableRunStore
from tests.e2e.conftest import AppHost, batch_job, blob_text
from tests.e2e.test_cli import cli

pytestmark = pytest.mark.integration

FAILING = {3: 33, 7: 37, 11: 41}  # input index -> the exit code its value makes the script exit with
VALUES = [f"v{i:02d}" for i in range(20)]

# Appends to its input's marker file, then fails with the code its value names unless `fixed` exists.
SCRIPT = f"""\
import pathlib, sys
value = sys.argv[1]
here = pathlib.Path(__file__).parent
with open(here / "markers" / value, "a") as marker:
    marker.write("ran\\n")
print(f"out {{value}}")
sys.stderr.write(f"err {{value}}\\n")
codes = {{f"v{{i:02d}}": code for i, code in {FAILING!r}.items()}}
sys.exit(0 if (here / "fixed").exists() else codes.get(value, 0))
"""



def _runs_per_input(markers: Path) -> dict[str, int]:
    return {p.name: len(p.read_text().split()) for p in sorted(markers.iterdir())}


def _check_reported(app_host: AppHost, task: dict[str, object], where: str) -> None:
    failed = task["failed_inputs"]
    assert isinstance(failed, dict), where
    assert failed["count"] == 3 and failed["ref"] is None, where
    listed = failed["listed"]
    assert [(f["index"], f["input"], f["exit_code"]) for f in listed] == [
        (i, VALUES[i], code) for i, code in FAILING.items()
    ], where
    for f in listed:
        assert blob_text(app_host.connection, f["log_urls"]["stderr.txt"]) == f"err {f['input']}\n", where
        assert blob_text(app_host.connection, f["log_urls"]["stdout.txt"]) == f"out {f['input']}\n", where
    message = str(task["message"])
    assert message.startswith("3 of 20 Batch task(s) failed"), where
    for i, code in FAILING.items():
        assert f"input {i} ({VALUES[i]}) exit code {code}" in message, where


def test_every_failed_input_is_reported_and_a_repair_reruns_only_them(
    app_host: AppHost, tmp_path: Path
) -> None:
    (tmp_path / "markers").mkdir()
    script = tmp_path / "work.py"
    script.write_text(SCRIPT, encoding="utf-8")
    definition = batch_job("fanout-failures", {"fan": f"python3 {script} {{{{input}}}}"})
    definition["tasks"][0]["payload"]["fan_out"] = {"items": VALUES}
    job_file = tmp_path / "fanout-failures.yaml"
    job_file.write_text(yaml.safe_dump(definition), encoding="utf-8")

    result = cli(app_host, "run", str(job_file), "--json", timeout=300)
    assert result.returncode == 1, result.stdout + result.stderr
    ran = json.loads(result.stdout.strip().splitlines()[-1])
    run_id = ran["run_id"]
    assert ran["result"] == "FAILED"
    assert _runs_per_input(tmp_path / "markers") == dict.fromkeys(VALUES, 1)
    _check_reported(app_host, ran["tasks"]["fan"], "run --json")

    status = json.loads(cli(app_host, "status", run_id, "--json").stdout)
    _check_reported(app_host, status["tasks"]["fan"], "status --json")
    text = cli(app_host, "status", run_id).stdout
    assert "input 7 (v07) exit code 37" in text
    _check_reported(app_host, app_host.client.get_run(run_id)["tasks"]["fan"], "HTTP view")

    # the task rows: the message names them, the links reach each one's logs
    _, rows = TableRunStore(app_host.connection, table_prefix=app_host.table_prefix).get_run_with_tasks(
        run_id
    )
    (row,) = [r for r in rows if r.task_key == "fan"]
    assert row.error_message is not None and "input 11 (v11) exit code 41" in row.error_message
    for i in FAILING:
        assert (
            blob_text(app_host.connection, row.links.logs[f"input {i} stderr.txt"]) == f"err {VALUES[i]}\n"
        )
    logs = app_host.client.task_logs(run_id, "fan")
    (attempt,) = logs["attempts"]
    assert {i: attempt["logs"][f"input {i} stderr.txt"] for i in FAILING} == {
        i: f"err {VALUES[i]}\n" for i in FAILING
    }

    (tmp_path / "fixed").write_text("ok")
    repair = app_host.client.repair_run(run_id)
    assert repair["rerun_tasks"] == ["fan"]
    assert repair["rerun_inputs"] == {"fan": {"indexes": list(FAILING), "ref": None}}
    repaired = app_host.wait_run_done(repair["run_id"], timeout=120)
    assert repaired["result"] == "SUCCESS", repaired["tasks"]["fan"]
    assert repaired["repair"]["rerun_inputs"] == {"fan": {"indexes": list(FAILING), "ref": None}}
    assert _runs_per_input(tmp_path / "markers") == {
        value: 2 if i in FAILING else 1 for i, value in enumerate(VALUES)
    }, "only the failed inputs ran again"
