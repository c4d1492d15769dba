"""The run view of an ADF If/Switch: its branch and its inner activities under `tasks`, beside the flat
keys a repair and the tracking rows use; `run --json` carries both."""

from __future__ import annotations

import io

from jobclusters.client.api import ApiClient
from jobclusters.client.progress import follow, result_json
from jobclusters.run_request import RunProgress, TaskProgress
from jobclusters.spec import TaskState
from tests.loopback import loopback
from tests.unit.triggers.test_run_view import status
from triggers.run_view import build_view


def test_an_if_shows_its_branch_and_inner_tasks() -> None:
    progress = RunProgress(
        run_id="run-1",
        job_id="j",
        tasks={
            "check/branch": TaskProgress(state=TaskState.SUCCESS, outcome="true"),
            "check/ifTrue/a": TaskProgress(state=TaskState.SUCCESS, attempts=1),
            "check/ifTrue/sw/branch": TaskProgress(state=TaskState.SUCCESS, outcome="eu"),
            "check/ifTrue/sw/eu/e": TaskProgress(state=TaskState.RUNNING, attempts=1),
            "check/ifTrue/sw/default/d": TaskProgress(state=TaskState.EXCLUDED),
            "check/ifTrue/sw": TaskProgress(state=TaskState.PENDING),
            "check/ifFalse/c": TaskProgress(state=TaskState.EXCLUDED),
            "check": TaskProgress(state=TaskState.PENDING),
            "checked": TaskProgress(state=TaskState.PENDING),
        },
    )
    view = build_view("run-1", status("Running", progress))
    assert view is not None
    check = view.tasks["check"]
    assert check.branch == "true"
    assert check.tasks is not None
    assert list(check.tasks) == [
        "ifTrue/a",
        "ifTrue/sw/branch",
        "ifTrue/sw/eu/e",
        "ifTrue/sw/default/d",
        "ifTrue/sw",
        "ifFalse/c",
    ]
    inner = view.tasks["check/ifTrue/sw"]
    assert inner.branch == "eu" and inner.tasks is not None and list(inner.tasks) == ["eu/e", "default/d"]
    assert view.tasks["checked"].branch is None and view.tasks["checked"].tasks is None
    assert "check/ifTrue/a" in view.tasks  # the flat keys stay

    shown = result_json(view.model_dump(mode="json"))["tasks"]
    assert shown["check"]["branch"] == "true"
    assert shown["check"]["tasks"]["ifTrue/sw"]["branch"] == "eu"
    assert shown["check"]["tasks"]["ifTrue/sw"]["tasks"]["eu/e"]["state"] == "RUNNING"
    assert "branch" not in shown["checked"] and "tasks" not in shown["checked"]


def test_follow_shows_the_branch_an_if_took() -> None:
    done = {"state": "SUCCESS", "attempts": 0, "duration_seconds": 0.0, "end": "2024-01-01T00:00:00+00:00"}
    view = {
        "run_id": "run-1",
        "job_id": "j",
        "state": "SUCCESS",
        "result": "SUCCESS",
        "done": True,
        "tasks": {"check": {**done, "branch": "false", "tasks": {}}},
    }
    with loopback(lambda *a: (200, view)) as (url, _):
        out = io.StringIO()
        follow(ApiClient(url), "run-1", out, interval=0.01)
    line = next(line for line in out.getvalue().splitlines() if " check " in line)
    assert line.endswith("SUCCESS            branch false  0.0s")
