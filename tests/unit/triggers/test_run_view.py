from __future__ import annotations

from datetime import UTC, datetime

from azure.durable_functions.models.DurableOrchestrationStatus import DurableOrchestrationStatus

from jobclusters.run_request import RunProgress, RunRequest, TaskProgress, TriggerInfo
from jobclusters.spec import Job, RunResult, TaskState
from jobclusters.tracking.models import RunRecord, RunState, TaskRunRecord
from triggers.run_view import build_view, request_of

JOB = Job.model_validate(
    {"name": "j", "tasks": [{"key": "a"}, {"key": "b", "depends_on": [{"task_key": "a"}]}]}
)


def status(
    runtime: str, progress: RunProgress | None = None, output: object = None
) -> DurableOrchestrationStatus:
    request = RunRequest(
        run_id="run-1", job_id="j", job=JOB, parameters={"p": "1"}, trigger=TriggerInfo(kind="http")
    )
    return DurableOrchestrationStatus.from_json(
        {
            "name": "run_job",
            "instanceId": "run-1",
            "runtimeStatus": runtime,
            "createdTime": "2024-01-01T00:00:00Z",
            "lastUpdatedTime": "2024-01-01T00:01:00Z",
            "input": request.model_dump_json(),
            "output": output,
            "customStatus": progress.model_dump(mode="json") if progress else None,
        }
    )


def test_a_running_run_shows_every_task_live_state() -> None:
    progress = RunProgress(
        run_id="run-1",
        job_id="j",
        tasks={
            "a": TaskProgress(
                state=TaskState.SUCCESS,
                attempts=1,
                start="2024-01-01T00:00:00+00:00",
                end="2024-01-01T00:00:02.5+00:00",
                compute="local",
            ),
            "b": TaskProgress(state=TaskState.RUNNING, attempts=2),
        },
    )
    view = build_view("run-1", status("Running", progress))
    assert view is not None
    assert view.state == "RUNNING" and not view.done and view.result is None
    assert view.tasks["a"].duration_seconds == 2.5 and view.tasks["a"].compute == "local"
    assert view.tasks["b"].attempts == 2
    assert view.parameters == {"p": "1"} and view.trigger == {"kind": "http", "detail": {}, "actor": None}


def test_the_result_comes_from_the_progress_then_the_output() -> None:
    progress = RunProgress(run_id="run-1", job_id="j", result=RunResult.SUCCESS_WITH_FAILURES)
    view = build_view("run-1", status("Completed", progress))
    assert view is not None and view.done and view.result == "SUCCESS_WITH_FAILURES"
    from_output = build_view("run-1", status("Completed", None, {"result": "FAILED", "message": "a: boom"}))
    assert from_output is not None and from_output.result == "FAILED" and from_output.message == "a: boom"


def test_a_terminated_instance_is_canceled_and_a_crashed_one_failed() -> None:
    terminated = build_view("run-1", status("Terminated"))
    crashed = build_view("run-1", status("Failed", None, "orchestrator function failed"))
    assert terminated is not None and terminated.result == "CANCELED"
    assert (
        crashed is not None
        and crashed.result == "FAILED"
        and crashed.message == "orchestrator function failed"
    )


def test_an_unknown_run_is_none_and_a_tracked_one_still_shows() -> None:
    missing = DurableOrchestrationStatus.from_json("instance not found")
    assert build_view("run-9", missing) is None
    record = RunRecord(
        run_id="run-9", job_id="j", state=RunState.FAILED, created_at=datetime(2024, 1, 1, tzinfo=UTC)
    )
    tasks = [
        TaskRunRecord(run_id="run-9", task_key="a", attempt=1, state=RunState.FAILED, error_message="exit 1"),
        TaskRunRecord(run_id="run-9", task_key="a", attempt=2, state=RunState.SUCCESS),
    ]
    view = build_view("run-9", missing, (record, tasks))
    assert view is not None and view.result == "FAILED" and view.done
    assert view.tasks["a"].state == "SUCCESS" and view.tasks["a"].attempts == 2
    assert [h["attempt"] for h in view.tasks["a"].attempt_history] == [1, 2]


def test_a_queued_run_still_shows_its_request() -> None:
    request = request_of(status("Running"))
    assert request is not None
    queued = DurableOrchestrationStatus.from_json(
        {
            "name": "run_job",
            "instanceId": "run-1",
            "runtimeStatus": "Running",
            "createdTime": "2024-01-01T00:00:00Z",
            "input": {"request": request.model_dump(mode="json"), "queued_polls": 3},
        }
    )
    view = build_view("run-1", queued)
    assert view is not None and view.parameters == {"p": "1"} and view.job_id == "j"


def test_a_tasks_exit_code_shows_live_and_from_its_latest_row() -> None:
    progress = RunProgress(
        run_id="run-1",
        job_id="j",
        tasks={"a": TaskProgress(state=TaskState.FAILED, attempts=1, exit_code=3)},
    )
    live = build_view("run-1", status("Running", progress))
    assert live is not None and live.tasks["a"].exit_code == 3
    created = datetime(2024, 1, 1, tzinfo=UTC)
    record = RunRecord(run_id="run-1", job_id="j", state=RunState.FAILED, created_at=created)
    rows = [
        TaskRunRecord(run_id="run-1", task_key="a", attempt=1, state=RunState.FAILED, exit_code=1),
        TaskRunRecord(run_id="run-1", task_key="a", attempt=2, state=RunState.FAILED, exit_code=3),
    ]
    recorded = build_view("run-1", None, (record, rows))
    assert recorded is not None and recorded.tasks["a"].exit_code == 3
    assert [a["exit_code"] for a in recorded.tasks["a"].attempt_history] == [1, 3]
