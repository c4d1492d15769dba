"""Render a task's dynamic values (`{{...}}`, ADF `@...`) from what the run knows so far. Pure: every
value, including the clock, comes from the orchestrator."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from jobclusters.execution.attempt_values import EXECUTION_COUNT, RETRY_COUNT
from jobclusters.execution.messages import TaskOutcome
from jobclusters.execution.routing import attempt_orchestrator
from jobclusters.run_request import RunRequest
from jobclusters.spec.model import CommandPayload, Task
from jobclusters.spec.templating import TemplateContext, render

FAN_OUT_INPUT = "{{input}}"


def run_parameters(request: RunRequest) -> dict[str, Any]:
    return {**request.job.parameter_defaults(), **request.parameters}


def trigger_files(request: RunRequest) -> list[str]:
    """Files of the event that started the run: a `files` list parameter, else the blob that arrived."""
    files = request.parameters.get("files")
    if isinstance(files, list):
        return [str(f) for f in files]
    for key in ("blob_path", "file_path", "blob_url"):
        value = request.parameters.get(key) or request.trigger.detail.get(key)
        if isinstance(value, str) and value:
            return [value]
    return []


def template_context(
    request: RunRequest,
    *,
    start: datetime,
    now: datetime,
    task_key: str,
    task_run_id: str,
    outcomes: Mapping[str, TaskOutcome],
) -> TemplateContext:
    task = request.job.task(task_key)
    attempts = attempt_orchestrator(task) is not None
    fan_out = isinstance(task.payload, CommandPayload) and task.payload.fan_out is not None
    return TemplateContext(
        job_id=request.job_id,
        run_id=request.run_id,
        job_name=request.job.name,
        start_time=start,
        now=now,
        parameters=run_parameters(request),
        variables=dict(request.job.variables),
        task_key=task_key,
        task_run_id=task_run_id,
        repair_count=request.repair.number if request.repair else 0,
        parent_run_id=request.repair.of_run_id if request.repair else None,
        trigger_type=request.trigger.kind,
        task_values={k: dict(o.task_values) for k, o in outcomes.items()},
        task_run_ids={k: o.remote_id for k, o in outcomes.items() if o.remote_id},
        task_states={k: o.state.value for k, o in outcomes.items()},
        activity_outputs=activity_outputs(outcomes),
        # A fan-out command keeps `{{input}}` literally; each Batch task gets its own input later.
        for_each_input=FAN_OUT_INPUT if fan_out else None,
        has_for_each_input=fan_out,
        # rendered per attempt (`attempt_values`) where attempts run; a task decided inline has one
        aliases={"task_retry_count": RETRY_COUNT} if attempts else {},
        execution_count=EXECUTION_COUNT if attempts else 1,
    )


def activity_outputs(outcomes: Mapping[str, TaskOutcome]) -> dict[str, dict[str, Any]]:
    """What `@activity('name')` sees. An activity inside an If/Switch branch (`check/ifTrue/name`) is
    also found by its own name, as in ADF, where activity names are unique across the pipeline."""
    found = {k: dict(o.task_values) for k, o in outcomes.items()}
    for key, outcome in outcomes.items():
        found.setdefault(key.rsplit("/", 1)[-1], dict(outcome.task_values))
    return found


def render_task(task: Task, context: TemplateContext) -> Task:
    """The task with its payload, parameters and environment rendered; raises `TemplateError` with the
    JSON path of the value that cannot be rendered."""
    data = task.model_dump(mode="json")
    for field in ("payload", "parameters", "environment"):
        if data.get(field) is not None:
            data[field] = render(data[field], context, f"{task.source_path or '$'}.{field}")
    return Task.model_validate(data)
