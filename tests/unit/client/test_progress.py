from __future__ import annotations

import io
from typing import Any

from jobclusters.client.api import ApiClient
from jobclusters.client.progress import exit_code, follow, print_summary, render_table, result_json
from tests.loopback import loopback

TASK_DONE = {
    "state": "SUCCESS",
    "attempts": 1,
    "start": "2024-01-01T00:00:00+00:00",
    "end": "2024-01-01T00:00:03+00:00",
    "duration_seconds": 3.0,
    "compute": "local",
    "exit_code": 0,
}
VIEWS: list[dict[str, Any]] = [
    {
        "run_id": "run-1",
        "job_id": "j",
        "state": "RUNNING",
        "done": False,
        "tasks": {"a": {"state": "RUNNING", "attempts": 1}, "b": {"state": "PENDING", "attempts": 0}},
    },
    {
        "run_id": "run-1",
        "job_id": "j",
        "state": "RUNNING",
        "done": False,
        "tasks": {"a": {"state": "RUNNING", "attempts": 1}, "b": {"state": "PENDING", "attempts": 0}},
    },
    {
        "run_id": "run-1",
        "job_id": "j",
        "state": "RUNNING",
        "done": False,
        "tasks": {
            "a": {"state": "WAITING_FOR_RETRY", "attempts": 1, "message": "exit code 1"},
            "b": {"state": "PENDING", "attempts": 0},
        },
    },
    {
        "run_id": "run-1",
        "job_id": "j",
        "state": "SUCCESS",
        "result": "SUCCESS",
        "done": True,
        "tasks": {"a": {**TASK_DONE, "attempts": 2}, "b": TASK_DONE},
    },
]


def test_follow_prints_one_line_per_task_change_and_returns_the_final_view() -> None:
    calls = iter(
        [(404, {"error": {"code": "run_not_found", "message": "no run"}}), *[(200, v) for v in VIEWS]]
    )
    with loopback(lambda *a: next(calls)) as (url, _):
        out = io.StringIO()
        view = follow(ApiClient(url), "run-1", out, interval=0.01)
    lines = out.getvalue().splitlines()
    assert view["result"] == "SUCCESS" and exit_code(view) == 0
    task_lines = [line for line in lines if " a " in line or " b " in line]
    assert len(task_lines) == 5  # a: RUNNING, WAITING_FOR_RETRY, SUCCESS; b: PENDING, SUCCESS
    assert "exit code 1" in task_lines[2] and "attempt 2" in task_lines[3]
    assert lines[-1].endswith("SUCCESS            attempt 1  3.0s")


def test_the_json_contract_has_run_id_result_and_every_task() -> None:
    document = result_json(VIEWS[-1])
    assert document["run_id"] == "run-1" and document["result"] == "SUCCESS"
    assert document["tasks"]["a"] == {
        "state": "SUCCESS",
        "attempts": 2,
        "start": TASK_DONE["start"],
        "end": TASK_DONE["end"],
        "duration_seconds": 3.0,
        "queue_seconds": None,
        "compute": "local",
        "message": None,
        "exit_code": 0,
    }


def test_exit_code_is_0_only_for_success_results() -> None:
    assert exit_code({"result": "SUCCESS_WITH_FAILURES"}) == 0
    for result in ("FAILED", "CANCELED", "TIMEDOUT", "SKIPPED", None):
        assert exit_code({"result": result}) == 1


def test_the_summary_is_an_aligned_table() -> None:
    out = io.StringIO()
    print_summary(VIEWS[-1], out)
    header, rule, first, second, verdict = out.getvalue().splitlines()
    assert header.split() == ["TASK", "STATE", "ATTEMPTS", "DURATION", "COMPUTE", "MESSAGE"]
    assert first.split()[:5] == ["a", "SUCCESS", "2", "3.0s", "local"]
    assert len(rule) >= len(first.rstrip())
    assert verdict == "run run-1 of job j: SUCCESS"
    assert render_table(["A"], []) == ["A", "-"]


def test_a_task_that_started_a_child_run_names_it_in_the_json() -> None:
    view = {"run_id": "r", "tasks": {"call": {"state": "SUCCESS", "child_run_id": "run-kid"}, "x": {}}}
    tasks = result_json(view)["tasks"]
    assert tasks["call"]["child_run_id"] == "run-kid"
    assert "child_run_id" not in tasks["x"]
