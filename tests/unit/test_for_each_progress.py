"""The CLI's progress words for a for_each task, from the iterations the run view lists."""

from __future__ import annotations

from typing import Any

from jobclusters.client.progress import iteration_words, result_json


def _task(total: int | None, *states: str) -> dict[str, Any]:
    return {
        "state": "RUNNING",
        "iterations_total": total,
        "iterations": [{"index": i, "state": s} for i, s in enumerate(states)],
    }


def test_done_counts_every_finished_iteration_and_failed_the_unsuccessful_ones() -> None:
    assert iteration_words(_task(4, "SUCCESS", "FAILED", "SUCCESS", "SUCCESS")) == "4/4 done, 1 failed"
    assert iteration_words(_task(4, "SUCCESS", "RUNNING", "SUCCESS")) == "2/4 done"
    assert iteration_words(_task(4, "SUCCESS", "TIMEDOUT", "CANCELED")) == "3/4 done, 2 failed"
    assert iteration_words(_task(10)) == "0/10 done"


def test_an_until_stopped_in_its_first_pass_never_reads_1_of_0() -> None:
    assert iteration_words(_task(0, "CANCELED")) == "1/1 done, 1 failed"


def test_other_tasks_have_no_iteration_words() -> None:
    assert iteration_words({"state": "RUNNING", "attempts": 1}) is None


def test_the_json_result_carries_the_iterations() -> None:
    view = {"run_id": "r", "tasks": {"regions": _task(1, "SUCCESS"), "plain": {"state": "SUCCESS"}}}
    tasks = result_json(view)["tasks"]
    assert tasks["regions"]["iterations"] == [{"index": 0, "state": "SUCCESS"}]
    assert "iterations" not in tasks["plain"]
