"""The run view of an ADF ForEach whose body has several activities: each iteration lists its inner
activities under `tasks`, and their rows are not tasks of the run."""

from __future__ import annotations

from datetime import UTC, datetime

from jobclusters.tracking.models import RunRecord, RunState, TaskRunRecord
from triggers.run_view import build_view


def _row(key: str, state: RunState, **fields: object) -> TaskRunRecord:
    return TaskRunRecord(run_id="run-1", task_key=key, attempt=1, state=state, **fields)  # type: ignore[arg-type]


def test_each_iteration_lists_its_inner_activities() -> None:
    record = RunRecord(
        run_id="run-1", job_id="p", state=RunState.FAILED, created_at=datetime(2026, 1, 1, tzinfo=UTC)
    )
    rows = [
        _row("loop", RunState.FAILED),
        _row("loop[0]", RunState.SUCCESS, parameters={"input": "a.csv"}),
        _row("loop[0]/note", RunState.SUCCESS),
        _row("loop[0]/check", RunState.SUCCESS),
        _row("loop[1]", RunState.FAILED, parameters={"input": "b.csv"}),
        _row("loop[1]/note", RunState.SUCCESS),
        _row("loop[1]/check", RunState.FAILED, error_message="not a number"),
        _row("loop[1]/check/ifTrue/x", RunState.SUCCESS),
    ]

    view = build_view("run-1", None, (record, rows))

    assert view is not None and set(view.tasks) == {"loop"}
    first, second = view.tasks["loop"].iterations or []
    assert (first["input"], first["state"]) == ("a.csv", "SUCCESS")
    assert {n: t["state"] for n, t in first["tasks"].items()} == {"note": "SUCCESS", "check": "SUCCESS"}
    assert second["tasks"]["check"] == {
        "state": "FAILED",
        "attempts": 1,
        "start": None,
        "end": None,
        "message": "not a number",
    }
    assert second["tasks"]["check/ifTrue/x"]["state"] == "SUCCESS"
