"""A for_each through devhost: every input runs as its own iteration (a local Batch command with
`{{input}}` rendered), one failing iteration fails the task after all ran, and a repair reruns only it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import TAGS, AppHost
from tests.eventually import eventually

pytestmark = pytest.mark.integration


def _job(script: Path, inputs: Any, concurrency: int = 2) -> dict[str, Any]:
    return {
        "format": "jobclusters/v1",
        "name": "regions-" + str(abs(hash(str(inputs))) % 10_000),
        "tags": TAGS,
        "parameters": [{"name": "regions", "default": json.dumps(inputs)}],
        "job_clusters": [
            {
                "key": "pool",
                "cluster": {"platform": "batch", "node_type": "Standard_D2s_v3", "num_workers": 1},
            }
        ],
        "tasks": [
            {
                "key": "regions",
                "payload": {
                    "kind": "for_each",
                    "inputs": "{{job.parameters.regions}}",
                    "concurrency": concurrency,
                    "task": {
                        "key": "one",
                        "compute": {"kind": "job_cluster", "job_cluster_key": "pool"},
                        "payload": {
                            "kind": "command",
                            "command_line": f"python3 {script} {{{{input.name}}}}",
                        },
                    },
                },
            }
        ],
    }


# Fails for "bad" until the marker file beside it exists; records every name it ran.
SCRIPT = """\
import pathlib, sys
here = pathlib.Path(__file__).parent
name = sys.argv[1]
with open(here / "ran.txt", "a") as f:
    f.write(name + "\\n")
sys.exit(3 if name == "bad" and not (here / "fixed").exists() else 0)
"""


def test_a_failing_iteration_fails_the_task_after_all_ran_and_a_repair_reruns_only_it(
    app_host: AppHost, tmp_path: Path
) -> None:
    script = tmp_path / "region.py"
    script.write_text(SCRIPT, encoding="utf-8")
    names = ["eu", "bad", "us", "ap"]
    client = app_host.client
    job_id = client.register_job(_job(script, [{"name": n} for n in names]))["job_id"]

    run_id = client.start_job(job_id)["run_id"]
    view = app_host.wait_run_done(run_id, timeout=180)

    assert view["result"] == "FAILED"
    task = view["tasks"]["regions"]
    assert task["state"] == "FAILED"
    assert task["message"].startswith("1 of 4 iterations failed; first: [1]")
    assert sorted((tmp_path / "ran.txt").read_text().split()) == sorted(names)
    assert sorted(view["tasks"]) == ["regions"], "iterations are shown under their task, not beside it"
    assert task["iterations_total"] == 4
    assert [(i["index"], i["input"], i["state"], i["attempts"]) for i in task["iterations"]] == [
        (0, {"name": "eu"}, "SUCCESS", 1),
        (1, {"name": "bad"}, "FAILED", 1),
        (2, {"name": "us"}, "SUCCESS", 1),
        (3, {"name": "ap"}, "SUCCESS", 1),
    ]
    assert all(i["start"] and i["end"] for i in task["iterations"])

    (tmp_path / "fixed").write_text("")
    repair = client.repair_run(run_id)
    assert app_host.wait_run_done(repair["run_id"], timeout=180)["result"] == "SUCCESS"
    assert sorted((tmp_path / "ran.txt").read_text().split()) == sorted([*names, "bad"])
    repaired = app_host.wait_run_done(run_id)["tasks"]["regions"]
    assert [i["state"] for i in repaired["iterations"]] == ["SUCCESS"] * 4


def test_inputs_that_are_not_an_array_fail_the_task_naming_the_path(
    app_host: AppHost, tmp_path: Path
) -> None:
    job = _job(tmp_path / "unused.py", {"name": "eu"})
    client = app_host.client
    run_id = client.start_job(client.register_job(job)["job_id"])["run_id"]

    view = app_host.wait_run_done(run_id, timeout=60)

    assert view["result"] == "FAILED"
    assert view["tasks"]["regions"]["message"].endswith(
        ".payload.inputs: inputs is not a JSON array: got dict"
    )


def test_a_canceled_for_each_stops_starting_iterations_and_ends_canceled(
    app_host: AppHost, tmp_path: Path
) -> None:
    marker = tmp_path / "ran.txt"
    job = _job(tmp_path / "unused.py", [{"name": str(i)} for i in range(40)], concurrency=2)
    job["name"] = "regions-cancel"
    nested = job["tasks"][0]["payload"]["task"]
    nested["payload"]["command_line"] = f"sh -c 'echo {{{{input.name}}}} >> {marker}; sleep 3'"
    client = app_host.client
    run_id = client.start_job(client.register_job(job)["job_id"])["run_id"]

    eventually(
        lambda: marker.exists() and len(marker.read_text().split()) >= 2, timeout=120, what="iterations"
    )
    client.cancel_run(run_id, reason="enough")
    view = app_host.wait_run_done(run_id, timeout=120)

    assert view["result"] == "CANCELED"
    assert view["tasks"]["regions"]["state"] == "CANCELED"
    started = len(marker.read_text().split())
    rows = eventually(
        lambda: _settled(client.get_run(run_id)["tasks"]["regions"]),
        timeout=120,
        what="the for_each to settle",
    )
    assert started < 40 and len(marker.read_text().split()) == started, "no iteration starts after the cancel"
    assert rows["state"] == "CANCELED"


def _settled(task: dict[str, Any]) -> dict[str, Any] | None:
    """The for_each's own latest row, once every iteration it started has ended."""
    history = task.get("attempt_history") or []
    iterations = task.get("iterations") or []
    if not history or history[-1]["state"] == "RUNNING":
        return None
    if any(i["state"] in ("RUNNING", "PENDING") for i in iterations):
        return None
    return history[-1]
