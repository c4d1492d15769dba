"""The view of a repaired run: the latest repair's result and repair count, every generation's attempts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from azure.durable_functions.models.DurableOrchestrationStatus import DurableOrchestrationStatus

from jobclusters.run_request import (
    RepairInfo,
    RunProgress,
    RunRequest,
    TaskProgress,
    TriggerInfo,
    repair_run_id,
)
from jobclusters.spec import Job, RunResult, TaskState
from jobclusters.tracking.models import ComputeInfo, Links, RunRecord, RunState, TaskRunRecord, Trigger
from triggers.run_view import _attempt, build_view, superseding_run_id

JOB = Job.model_validate(
    {"name": "j", "tasks": [{"key": "a"}, {"key": "b", "depends_on": [{"task_key": "a"}]}]}
)
T0 = datetime(2024, 1, 1, tzinfo=UTC)


def _at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def instance(repair: int, result: RunResult, progress: dict[str, TaskProgress]) -> DurableOrchestrationStatus:
    """The finished `run_job` instance of run-1 (repair 0) or of its `repair`-th repair."""
    run_id = repair_run_id("run-1", repair) if repair else "run-1"
    request = RunRequest(
        run_id=run_id,
        job_id="j",
        job=JOB,
        trigger=TriggerInfo(kind="repair" if repair else "cli"),
        repair=RepairInfo(
            of_run_id="run-1",
            number=repair,
            rerun_tasks=["b"],
            previous_states={"a": TaskState.SUCCESS, "b": TaskState.FAILED},
        )
        if repair
        else None,
    )
    live = RunProgress(run_id=run_id, job_id="j", result=result, tasks=progress)
    return DurableOrchestrationStatus.from_json(
        {
            "name": "run_job",
            "instanceId": run_id,
            "runtimeStatus": "Completed",
            "createdTime": _at(10 * repair).isoformat(),
            "input": request.model_dump_json(),
            "output": {"result": result.value},
            "customStatus": live.model_dump(mode="json"),
        }
    )


def tracked(generation: int, state: RunState) -> tuple[RunRecord, list[TaskRunRecord]]:
    """Tracking after `generation` repairs: `a` ran once (generation 0), `b` failed in every generation
    but the last, which ended in `state`."""
    record = RunRecord(
        run_id="run-1",
        job_id="j",
        state=state,
        generation=generation,
        created_at=T0,
        trigger=Trigger(kind="cli"),
    )
    rows = [
        TaskRunRecord(
            run_id="run-1",
            task_key="a",
            state=RunState.SUCCESS,
            start_time=_at(0),
            end_time=_at(1),
            compute=ComputeInfo(kind="local"),
        )
    ]
    for g in range(generation + 1):
        rows.append(
            TaskRunRecord(
                run_id="run-1",
                task_key="b",
                generation=g,
                state=state if g == generation else RunState.FAILED,
                start_time=_at(10 * g + 2),
                end_time=_at(10 * g + 3),
                error_message=None if g == generation and state == RunState.SUCCESS else f"exit 1 (gen {g})",
                links=Links(logs={"stdout.txt": f"https://logs/b/{g}/stdout.txt"}),
            )
        )
    return record, rows


def test_the_run_reads_its_latest_repair_instance_once_tracking_shows_a_repair() -> None:
    first = instance(0, RunResult.FAILED, {})
    assert superseding_run_id(first, tracked(0, RunState.FAILED)) is None
    assert superseding_run_id(first, tracked(2, RunState.SUCCESS)) == repair_run_id("run-1", 2)
    latest = instance(2, RunResult.SUCCESS, {})
    assert superseding_run_id(latest, tracked(2, RunState.SUCCESS)) is None
    purged = DurableOrchestrationStatus.from_json("instance not found")
    assert superseding_run_id(purged, tracked(1, RunState.FAILED)) == repair_run_id("run-1", 1)
    assert superseding_run_id(purged, None) is None


def test_a_repaired_run_shows_the_latest_result_and_every_attempt_of_every_generation() -> None:
    latest = instance(
        2,
        RunResult.SUCCESS,
        {
            "a": TaskProgress(state=TaskState.SUCCESS, attempts=0),
            "b": TaskProgress(
                state=TaskState.SUCCESS,
                attempts=1,
                start=_at(22).isoformat(),
                end=_at(23).isoformat(),
            ),
        },
    )
    view = build_view("run-1", latest, tracked(2, RunState.SUCCESS))
    assert view is not None
    assert (view.run_id, view.state, view.result, view.done) == ("run-1", "SUCCESS", "SUCCESS", True)
    assert view.repair_count == 2 and view.repair is not None and view.repair["number"] == 2
    assert view.created_at == T0.isoformat() and view.trigger is not None and view.trigger["kind"] == "cli"
    b = view.tasks["b"]
    assert (b.state, b.attempts, b.duration_seconds) == ("SUCCESS", 1, 60.0)
    assert [
        (h["generation"], h["attempt"], h["state"], h["links"]["logs"]["stdout.txt"])
        for h in b.attempt_history
    ] == [
        (0, 1, "FAILED", "https://logs/b/0/stdout.txt"),
        (1, 1, "FAILED", "https://logs/b/1/stdout.txt"),
        (2, 1, "SUCCESS", "https://logs/b/2/stdout.txt"),
    ]
    a = view.tasks["a"]  # kept by the repairs: shown as generation 0 ran it, not as "0 attempts"
    assert (a.state, a.attempts, a.start, a.compute) == ("SUCCESS", 1, T0.isoformat(), "local")


def test_an_earlier_generations_instance_never_hides_the_tracked_result() -> None:
    """The latest repair's instance could not be read (purged): tracking's run row and the latest
    generation's task rows are the truth, not the original instance's FAILED."""
    first = instance(
        0,
        RunResult.FAILED,
        {"a": TaskProgress(state=TaskState.SUCCESS, attempts=1), "b": TaskProgress(state=TaskState.FAILED)},
    )
    view = build_view("run-1", first, tracked(1, RunState.SUCCESS))
    assert view is not None
    assert (view.state, view.result, view.done, view.repair_count) == ("SUCCESS", "SUCCESS", True, 1)
    assert view.tasks["b"].state == "SUCCESS" and view.tasks["b"].message is None
    assert [h["generation"] for h in view.tasks["b"].attempt_history] == [0, 1]


def test_attempts_show_their_rendered_parameters_unless_the_task_is_secure_input() -> None:
    plain = TaskRunRecord(run_id="r", task_key="t", state=RunState.SUCCESS, parameters={"day": "1"})
    secure = plain.model_copy(update={"secure_input": True})
    assert _attempt(plain)["parameters"] == {"day": "1"} and "run_id" not in _attempt(plain)
    assert "parameters" not in _attempt(secure)
