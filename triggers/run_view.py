"""One run as the API shows it: the orchestration's live status (`RunProgress` custom status, runtime
status, output) merged with what tracking recorded in Table storage (attempt history, exit codes, links).

The live status answers while a run is in flight (tracking may lag a step); the Table rows add what the
status does not carry and survive a purged instance history.

A repaired run is one tracked run in generations: its live status is its latest repair's instance
(`superseding_run_id`), its tasks' attempt history holds every attempt of every generation, and a task
that repair kept shows the generation that last ran it.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from jobclusters.cost.ledger import run_cost, task_total
from jobclusters.cost.models import Cost, RunCost
from jobclusters.run_request import RunProgress, RunRequest, repair_run_id
from jobclusters.spec.adf_branches import SELECTOR as BRANCH_SELECTOR
from jobclusters.spec.for_each import ITERATION_INPUT, ITERATIONS_TOTAL, parse_iteration_key
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
    queue_seconds: float | None = None
    message: str | None = None
    compute: str | None = None
    outcome: str | None = None
    failed_inputs: dict[str, Any] | None = None
    exit_code: int | None = None
    child_run_id: str | None = None
    attempt_history: list[dict[str, Any]] = Field(default_factory=list)
    cost: Cost | None = None
    iterations: list[dict[str, Any]] | None = Field(
        default=None, description="a for_each's iterations that started, in input order"
    )
    iterations_total: int | None = Field(default=None, description="a for_each's input count")
    branch: str | None = Field(
        default=None, description="an If/Switch's branch: true, false, a case, default"
    )
    tasks: dict[str, TaskView] | None = Field(
        default=None, description="an If/Switch's inner activities, keyed below it (`ifTrue/copy`)"
    )


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
    repair_count: int = 0
    message: str | None = None
    tasks: dict[str, TaskView] = Field(default_factory=dict)
    cost: RunCost | None = Field(
        default=None, description="the tasks' costs plus overhead; so far while running"
    )
    starts_at: str | None = Field(default=None, description="queued for the cost policy's window until then")


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
        raw = raw["request"]  # run_job's envelope: queued, or walking on in a new execution
    if not isinstance(raw, dict):
        return None
    try:
        return RunRequest.model_validate(raw)
    except ValidationError:
        return None


def repair_number(request: RunRequest | None) -> int:
    """0 for an original run's instance, n for its n-th repair's."""
    return request.repair.number if request is not None and request.repair is not None else 0


def superseding_run_id(status: Any, tracked: tuple[Any, list[Any]] | None) -> str | None:
    """The instance that holds the run's live status when tracking shows a repair newer than `status`'s
    instance (read with `show_input=True`); None when `status` is already the latest."""
    record = tracked[0] if tracked is not None else None
    if record is None or record.generation == 0:
        return None
    if status_runtime(status) is not None and repair_number(request_of(status)) >= record.generation:
        return None
    return repair_run_id(record.run_id, record.generation)


def status_runtime(status: Any) -> str | None:
    if status is None:
        return None
    return getattr(getattr(status, "runtime_status", None), "value", None)


def _output_result(output: Any) -> str | None:
    output = _json(output)
    if isinstance(output, dict) and isinstance(output.get("result"), str):
        return str(output["result"])
    if isinstance(output, str) and output in set(RunResult):
        return output
    return None


def build_view(run_id: str, status: Any, tracked: tuple[Any, list[Any]] | None = None) -> RunView | None:
    """None when neither the orchestration nor tracking knows the run."""
    runtime = status_runtime(status)
    record, task_rows = tracked if tracked is not None else (None, [])
    if runtime is None and record is None:
        return None
    if runtime is not None and record is not None and record.generation > repair_number(request_of(status)):
        runtime = None  # an earlier generation's instance: tracking holds the run's latest result
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
            getattr(status, "created_time", None)
            if runtime and (record is None or record.generation == 0)
            else getattr(record, "created_at", None)
        ),
        last_updated_at=_iso(getattr(status, "last_updated_time", None)) if runtime else None,
    )
    view.repair_count = max(repair_number(request), record.generation if record is not None else 0)
    if request is not None:
        view.trigger = request.trigger.model_dump(mode="json")
        view.parameters = request.parameters
        if request.repair is not None:
            view.repair = {
                "of_run_id": request.repair.of_run_id,
                "number": request.repair.number,
                "rerun_tasks": request.repair.rerun_tasks,
            }
            if request.repair.rerun_inputs:
                view.repair["rerun_inputs"] = {
                    k: v.model_dump(mode="json") for k, v in request.repair.rerun_inputs.items()
                }
            if record is not None and record.trigger is not None:
                view.trigger = record.trigger.model_dump(mode="json")  # the run's, not its repair's
    decoded = _json(output)
    if runtime == "Failed" and isinstance(decoded, str):
        view.message = decoded[:_FAILURE_MESSAGE_CHARS]
    if isinstance(decoded, dict):
        view.message = decoded.get("message") or None
        view.start = decoded.get("start") or None
        view.end = decoded.get("end") or None
    if progress is not None and progress.starts_at and not done:
        view.state, view.starts_at = "QUEUED", progress.starts_at
    if progress is not None:
        for key, live in progress.tasks.items():
            view.tasks[key] = TaskView(
                state=live.state.value,
                attempts=live.attempts,
                start=live.start,
                end=live.end,
                duration_seconds=_seconds(live.start, live.end),
                queue_seconds=live.queue_seconds,
                message=live.message,
                compute=live.compute,
                outcome=live.outcome,
                failed_inputs=live.failed_inputs.model_dump(mode="json") if live.failed_inputs else None,
                exit_code=live.exit_code,
            )
    if record is not None:
        view.start = view.start or _iso(record.start_time)
        view.end = view.end or _iso(record.end_time)
        view.message = view.message or record.error_message
        if view.trigger is None and record.trigger is not None:
            view.trigger = record.trigger.model_dump(mode="json")
        if not view.parameters:
            view.parameters = dict(record.parameters)
    kept: set[str] = set()
    if request is not None and request.repair is not None:
        kept = set(request.repair.previous_states) - set(request.repair.rerun_tasks)
    history: dict[str, list[Any]] = {}
    for row in sorted(task_rows, key=lambda r: (r.task_key, r.generation, r.attempt)):
        history.setdefault(row.task_key, []).append(row)
    iterations = _iterations(history)
    inner = _inner_rows(history, iterations)
    for key, rows in history.items():
        if key in iterations or key in inner:
            continue
        task = view.tasks.setdefault(key, TaskView())
        task.attempt_history = [_attempt(row) for row in rows]
        task.child_run_id = next((r.child_run_id for r in reversed(rows) if r.child_run_id), None)
        if progress is None or key not in progress.tasks or key in kept:
            _from_rows(task, [r for r in rows if r.generation == rows[-1].generation])
        task.cost = task_total(rows)
    for key, found in iterations.items():
        parent, _ = found
        if parent not in view.tasks:
            continue
        task = view.tasks[parent]
        entry = _iteration(found[1], history[key])
        body = {name: _iteration(0, history[k]) for k, (at, name) in inner.items() if at == key}
        if body:
            entry["tasks"] = {
                n: {k: v for k, v in t.items() if k not in ("index", "input")} for n, t in body.items()
            }
        task.iterations = [*(task.iterations or []), entry]
    with_iterations: dict[str, list[Any]] = {}
    for key, (parent_key, _) in iterations.items():
        with_iterations.setdefault(parent_key, list(history.get(parent_key, []))).extend(history[key])
    for parent_key, rows in with_iterations.items():
        if parent_key in view.tasks:
            view.tasks[parent_key].cost = task_total(rows)  # a for_each costs what its iterations did
    for task in view.tasks.values():
        if task.iterations:
            task.iterations.sort(key=lambda i: int(i["index"]))
    for key, task in view.tasks.items():
        total = next((r.parameters.get(ITERATIONS_TOTAL) for r in history.get(key, [])[::-1]), None)
        task.iterations_total = total if isinstance(total, int) else None
        if total is not None and task.iterations is None:
            task.iterations = []
    _nest_branches(view)
    _add_run_cost(view, record, task_rows)
    return view


def _nest_branches(view: RunView) -> None:
    """An If/Switch `k` (expanded as `k/branch`, `k/<branch>/<name>`, `k`) shows its branch and, under
    `tasks`, its inner activities keyed below it; they stay at the top level too, under the keys a
    repair and the tracking rows use."""
    for key, task in view.tasks.items():
        selector = view.tasks.get(f"{key}/{BRANCH_SELECTOR}")
        if selector is None:
            continue
        task.branch = selector.outcome
        inner = {k[len(key) + 1 :]: t for k, t in view.tasks.items() if k.startswith(f"{key}/")}
        inner.pop(BRANCH_SELECTOR)
        task.tasks = inner


def _add_run_cost(view: RunView, record: Any, task_rows: list[Any]) -> None:
    """The recorded cost of an ended run; while it runs, what its ended attempts cost so far."""
    if record is not None and record.cost is not None:
        view.cost = record.cost
    elif any(row.cost is not None for row in task_rows):
        so_far = run_cost(task_rows, [])
        view.cost = so_far.model_copy(update={"basis": f"so far: {so_far.basis}"})


def _iterations(history: dict[str, list[Any]]) -> dict[str, tuple[str, int]]:
    """The row keys that are iterations of a for_each task (`<task>[<index>]`) whose task has rows."""
    found = {}
    for key in history:
        parsed = parse_iteration_key(key)
        if parsed is not None and parsed[0] in history:
            found[key] = parsed
    return found


def _inner_rows(history: dict[str, list[Any]], iterations: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """Rows of an ADF ForEach iteration's or Until pass's inner activities (`<task>[<i>]/<inner>`):
    key -> (the iteration's key, the inner activity's name)."""
    found = {}
    for key in history:
        at = next((key[:i] for i, c in enumerate(key) if c == "/" and key[:i] in iterations), None)
        if at is not None and key[len(at) + 1 :]:
            found[key] = (at, key[len(at) + 1 :])
    return found


def _iteration(index: int, rows: list[Any]) -> dict[str, Any]:
    """One iteration as its latest generation left it; its input is kept in its rows' parameters."""
    task = TaskView()
    latest = [r for r in rows if r.generation == rows[-1].generation]
    _from_rows(task, latest)
    return {
        "index": index,
        "input": None if latest[-1].secure_input else latest[-1].parameters.get(ITERATION_INPUT),
        "state": task.state,
        "attempts": task.attempts,
        "start": task.start,
        "end": task.end,
        "message": task.message,
    }


def _attempt(row: Any) -> dict[str, Any]:
    """An attempt as the view lists it: its rendered parameters are stored redacted, and a secure_input
    task's are not shown at all."""
    hidden = {"run_id", "task_key"} | ({"parameters"} if row.secure_input else set())
    return dict(row.model_dump(mode="json", exclude=hidden))


def _from_rows(task: TaskView, rows: list[Any]) -> None:
    """A task as the attempts of its latest generation left it (rows in attempt order)."""
    task.state = rows[-1].state.value
    task.attempts = max(r.attempt for r in rows)
    task.start = next((_iso(r.start_time) for r in rows if r.start_time is not None), None)
    task.end = next((_iso(r.end_time) for r in reversed(rows) if r.end_time is not None), None)
    task.duration_seconds = _seconds(task.start, task.end)
    task.queue_seconds = rows[-1].queue_seconds
    task.message = next((r.error_message for r in rows if r.error_message), None)
    task.compute = next((r.compute.kind for r in rows if r.compute is not None), None)
    task.exit_code = rows[-1].exit_code
