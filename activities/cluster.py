"""Cluster-job activities: submit, poll, collect output, cancel. None of them waits for a run."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import azure.durable_functions as df
from pydantic import ValidationError

from jobclusters.execution.cluster_mapping import (
    ClusterMappingError,
    cluster_request,
    compute_info,
    compute_label,
)
from jobclusters.execution.messages import (
    ClusterFinishResult,
    ClusterHandleInput,
    ClusterPollResult,
    ClusterSubmitInput,
    ClusterSubmitResult,
)
from jobclusters.services import factory
from jobclusters.services.cluster import InvalidRunRequest, ResultState, RunHandle, RunNotFound
from jobclusters.spec.model import TaskState

bp = df.Blueprint()

MAX_TASK_VALUES_BYTES = 16_000
_RESULTS = {
    ResultState.SUCCESS: TaskState.SUCCESS,
    ResultState.FAILED: TaskState.FAILED,
    ResultState.TIMEDOUT: TaskState.TIMEDOUT,
    ResultState.CANCELED: TaskState.CANCELED,
}


@bp.activity_trigger(input_name="payload")
def cluster_submit(payload: dict[str, Any]) -> dict[str, Any]:
    """Idempotent by `idempotency_key` (run id + task key + repair + attempt)."""
    inp = ClusterSubmitInput.model_validate(payload)
    control = factory.get_control_store()
    if control.cancel_requested(inp.run.control_id, fresh=True):
        return ClusterSubmitResult(canceled=True).model_dump(mode="json")
    backend = factory.cluster_backend(inp.run)
    try:
        request = cluster_request(inp.run, inp.attempt_id, backend)
    except (ClusterMappingError, ValidationError, ValueError) as exc:
        return ClusterSubmitResult(error=f"the task cannot be mapped to a {backend} run: {exc}").model_dump(
            mode="json"
        )
    service = factory.get_cluster_service(backend)
    try:
        handle = service.submit(request, inp.idempotency_key)
    except InvalidRunRequest as exc:
        return ClusterSubmitResult(error=f"{backend} refused the run: {exc}").model_dump(mode="json")
    handle_json = handle.model_dump(mode="json")
    control.register_handle(inp.run.control_id, inp.attempt_id, "cluster", handle_json)
    if control.cancel_requested(inp.run.control_id, fresh=True):
        with contextlib.suppress(RunNotFound):
            service.cancel(handle)
        return ClusterSubmitResult(handle=handle_json, canceled=True).model_dump(mode="json")
    return ClusterSubmitResult(
        handle=handle_json,
        compute=compute_label(backend, request),
        compute_info=compute_info(backend, request),
    ).model_dump(mode="json")


@bp.activity_trigger(input_name="payload")
def cluster_poll(payload: dict[str, Any]) -> dict[str, Any]:
    inp = ClusterHandleInput.model_validate(payload)
    handle = RunHandle.model_validate(inp.handle)
    service = factory.get_cluster_service(handle.backend)
    reason = factory.get_control_store().cancel_requested(inp.run_id)
    if reason is not None:
        with contextlib.suppress(RunNotFound):
            service.cancel(handle)
        return ClusterPollResult(
            terminal=True, state=TaskState.CANCELED, message=reason, canceled=True
        ).model_dump(mode="json")
    state = service.get_state(handle)
    cluster = state.cluster.cluster_id if state.cluster else None
    if not state.terminal:
        return ClusterPollResult(terminal=False, cluster=cluster).model_dump(mode="json")
    result = _RESULTS.get(state.result, TaskState.FAILED) if state.result else TaskState.FAILED
    message = state.message or next((t.message for t in state.tasks if t.message), "")
    return ClusterPollResult(terminal=True, state=result, message=message[:2000], cluster=cluster).model_dump(
        mode="json"
    )


@bp.activity_trigger(input_name="payload")
def cluster_finish(payload: dict[str, Any]) -> dict[str, Any]:
    """The run's output: error, task values (small), logs stored as a blob reference."""
    inp = ClusterHandleInput.model_validate(payload)
    handle = RunHandle.model_validate(inp.handle)
    try:
        output = factory.get_cluster_service(handle.backend).get_output(handle)
    except RunNotFound as exc:
        return ClusterFinishResult(error=str(exc)).model_dump(mode="json")
    if not output.tasks:
        return ClusterFinishResult().model_dump(mode="json")
    task = output.tasks[0]
    log_ref = None
    if task.logs:
        log_ref = factory.get_blob_refs().put_text(
            f"logs/{_path(inp.attempt_id)}/{task.task_key}.log", task.logs
        )
    values = task.task_values
    if len(json.dumps(values, default=str)) > MAX_TASK_VALUES_BYTES:
        values = {"_truncated": f"task values larger than {MAX_TASK_VALUES_BYTES} bytes are not carried"}
    error = task.error if not task.error_trace else f"{task.error}\n{task.error_trace[-1500:]}"
    return ClusterFinishResult(
        error=error[:3000] if error else None,
        task_values=json.loads(json.dumps(values, default=str)),
        log_ref=log_ref,
        notebook_result=(task.notebook_result or "")[:2000] or None,
    ).model_dump(mode="json")


@bp.activity_trigger(input_name="payload")
def cluster_cancel(payload: dict[str, Any]) -> bool:
    inp = ClusterHandleInput.model_validate(payload)
    handle = RunHandle.model_validate(inp.handle)
    try:
        factory.get_cluster_service(handle.backend).cancel(handle)
    except RunNotFound:
        return False
    return True


def _path(attempt_id: str) -> str:
    return attempt_id.replace(":", "/")
