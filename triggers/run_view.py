"""One run as the API shows it: the orchestration's live status (`RunProgress` custom status, runtime
status, output) merged with what tracking recorded in Table storage (attempt history, exit codes, links).

The live status answers while a run is in flight (tracking may lag a step); the Table rows add what the
status does not carry and survive a purged instance history.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from jobclusters.run_request import RunProgress, RunRequest
from jobclusters.spec.model import RunResult

_RUNTIME_TO_STATE = {
    "Pending": "PENDING",
    "Running": "RUNNING",
    "ContinuedAsNew": "RUNNING",
    "Suspended": "RUNNING",
    "Completed": "SUCCESS",
    "Failed": "FAILED",
    "Terminated": "CANCELED",
    "Canceled": "CANCELED",
}
# Characters of a failed orchestration's output shown as the run's message.
_FAILURE_MESSAGE_CHARS = 2000
TERMINAL_RUNTIME = frozenset({"Completed", "Failed", "Terminated", "Canceled"})


class TaskView(BaseModel):
    model_config = ConfigDict(extra="forbid")

    state: str = "PENDING"
    attempts: int = 0
    start: str | None = None
    end: str | None = None
    duration_seconds: float | None = None
    message: str | None = None
    compute: str | None = None
    outcome: str | None = None
    attempt_history: list[dict[str, Any]] = Field(default_factory=list)


class RunView(BaseModel):
    model_config = ConfigDict(extra="forbid")

    run_id: str
    job_id: str | None = None
    state: str
    result: str | None = None
    runtime_status: str | None = None
    done: bool = False
    created_at: str | None = None
    last_updated_at: str | None = None
    start: str | None = None
    end: str | None = None
    trigger: dict[str, Any] | None = None
    parameters: dict[str, Any] = Field(default_factory=dict)
    repair: dict[str, Any] | None = None
    message: str | None = None
    tasks: dict[str, TaskView] = Field(default_factory=dict)


def _json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _seconds(start: str | None, end: str | None) -> float | None:
    from datetime import datetime

    if not start or not end:
        return None
    try:
        return round((datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds(), 3)
    except ValueError:
        return None


def progress_of(status: Any) -> RunProgress | None:
    raw = _json(getattr(status, "custom_status", None))
    if not isinstance(raw, dict):
        return None
    try:
        return RunProgress.model_validate(raw)
    except ValidationError:
        return None


def request_of(status: Any) -> RunRequest | None:
    """The `RunRequest` a run was started with (needs the status read with `show_input=True`)."""
    raw = _json(getattr(status, "input_", None))
    if isinstance(raw, dict) and isinstance(raw.get("request"), dict):
        raw = raw["request"]  # run_job's envelope while a run waits in the queue (continue_as_new)
    if not isinstance(raw, dict):
        return None
    try:
        return RunRequest.model_validate(raw)
    except ValidationError:
        return None


def _output_result(output: Any) -> str | None:
    output = _json(output)
    if isinstance(output, dict) and isinstance(output.get("result"), str):
        return str(output["result"])
    if isinstance(output, str) and output in set(RunResult):
        return output
    return None


def build_view(run_id: str, status: Any, tracked: tuple[Any, list[Any]] | None = None) -> RunView | None:
    """None when neither the orchestration nor tracking knows the run."""
    runtime = getattr(getattr(status, "runtime_status", None), "value", None) if status is not None else None
    record, task_rows = tracked if tracked is not None else (None, [])
    if runtime is None and record is None:
        return None
    progress = progress_of(status) if runtime is not None else None
    request = request_of(status) if runtime is not None else None
    output = getattr(status, "output", None) if runtime is not None else None

    result = (progress.result.value if progress and progress.result else None) or _output_result(output)
    done = runtime in TERMINAL_RUNTIME if runtime else bool(record is not None and record.state.terminal)
    if result is None and runtime in ("Failed", "Terminated", "Canceled"):
        result = _RUNTIME_TO_STATE[runtime]
    if result is None and runtime is None and record is not None and record.state.terminal:
        result = record.state.value
    recorded_state = record.state.value if record is not None else "PENDING"
    state = result or (_RUNTIME_TO_STATE.get(runtime, "PENDING") if runtime else recorded_state)
    if runtime == "Completed" and result is None:
        state = "SUCCESS"

    view = RunView(
        run_id=run_id,
        job_id=(progress.job_id if progress else None)
        or (request.job_id if request else None)
        or (record.job_id if record is not None else None),
        state=state,
        result=result if done else None,
        runtime_status=runtime,
        done=done,
        created_at=_iso(
            getattr(status, "created_time", None) if runtime else getattr(record, "created_at", None)
        ),
        last_updated_at=_iso(getattr(status, "last_updated_time", None)) if runtime else None,
    )
    if request is not None:
        view.trigger = request.trigger.model_dump(mode="json")
        view.parameters = request.parameters
        if request.repair is not None:
            view.repair = {
                "of_run_id": request.repair.of_run_id,
                "number": request.repair.number,
                "rerun_tasks": request.repair.rerun_tasks,
            }
    decoded = _json(output)
    if runtime == "Failed" and isinstance(decoded, str):
        view.message = decoded[:_FAILURE_MESSAGE_CHARS]
    if isinstance(decoded, dict):
        view.message = decoded.get("message") or None
        view.start = decoded.get("start") or None
        view.end = decoded.get("end") or None
    if progress is not None:
        for key, live in progress.tasks.items():
            view.tasks[key] = TaskView(
                state=live.state.value,
                attempts=live.attempts,
                start=live.start,
                end=live.end,
                duration_seconds=_seconds(live.start, live.end),
                message=live.message,
                compute=live.compute,
                outcome=live.outcome,
            )
    if record is not None:
        view.start = view.start or _iso(record.start_time)
        view.end = view.end or _iso(record.end_time)
        view.message = view.message or record.error_message
        if view.trigger is None and record.trigger is not None:
            view.trigger = record.trigger.model_dump(mode="json")
        if not view.parameters:
            view.parameters = dict(record.parameters)
    for row in sorted(task_rows, key=lambda r: (r.task_key, r.generation, r.attempt)):
        entry = row.model_dump(mode="json", exclude={"run_id", "task_key", "parameters"})
        task = view.tasks.setdefault(row.task_key, TaskView())
        task.attempt_history.append(entry)
        if not progress or row.task_key not in progress.tasks:
            task.state = row.state.value
            task.attempts = max(task.attempts, row.attempt)
            task.start = task.start or _iso(row.start_time)
            task.end = _iso(row.end_time) or task.end
            task.duration_seconds = _seconds(task.start, task.end)
            task.message = task.message or row.error_message
            if row.compute is not None and task.compute is None:
                task.compute = row.compute.kind
    return view
