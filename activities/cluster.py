"""Cluster-job activities: submit, poll, collect output, cancel. None of them waits for a run."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import azure.durable_functions as df
from pydantic import ValidationError

from jobclusters.execution.cancel_handshake import submit_unless_canceled
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
from jobclusters.execution.node_time import node_time_of
from jobclusters.execution.polling import WORK_ENDED, schedule_from_settings
from jobclusters.execution.registry import (
    CLUSTER_CANCEL,
    CLUSTER_FINISH,
    CLUSTER_POLL,
    CLUSTER_SUBMIT,
    activity,
    activity_with_client,
)
from jobclusters.services import factory
from jobclusters.services.cluster import (
    ClusterJobError,
    ClusterRunRequest,
    InvalidRunRequest,
    ReportsClusterNodes,
    ResultState,
    RunHandle,
    RunNotFound,
)
from jobclusters.services.work_signals import EventRaiser, SignalsRunEnd
from jobclusters.spec.model import TaskState

bp = df.Blueprint()

MAX_TASK_VALUES_BYTES = 16_000
#: a remote run's final message, its error, and the tail of its error trace kept in the outcome
POLL_MESSAGE_LIMIT = 2000
ERROR_LIMIT = 3000
ERROR_TRACE_TAIL = 1500
_RESULTS = {
    ResultState.SUCCESS: TaskState.SUCCESS,
    ResultState.FAILED: TaskState.FAILED,
    ResultState.TIMEDOUT: TaskState.TIMEDOUT,
    ResultState.CANCELED: TaskState.CANCELED,
}


def _signal_when_ended(backend: str, handle: RunHandle, signal_to: str | None, client: str | None) -> None:
    """Where the service can tell (the local cluster), the waiting orchestration wakes when the run ends
    rather than at its next poll."""
    service = factory.get_cluster_service(backend)
    raiser = EventRaiser.from_binding(client) if signal_to else None
    if raiser is not None and signal_to is not None and isinstance(service, SignalsRunEnd):
        service.when_run_ends(handle.run_id, raiser.notifier(signal_to, WORK_ENDED))


@activity_with_client(bp, CLUSTER_SUBMIT)
def cluster_submit(inp: ClusterSubmitInput, client: str | None) -> ClusterSubmitResult:
    """Idempotent by `idempotency_key` (run id + task key + repair + attempt)."""
    backend = factory.cluster_backend(inp.run)

    def submit() -> tuple[ClusterRunRequest, RunHandle]:
        request = cluster_request(inp.run, inp.attempt_id, backend)
        return request, factory.get_cluster_service(backend).submit(request, inp.idempotency_key)

    def cancel(submitted: tuple[ClusterRunRequest, RunHandle]) -> None:
        with contextlib.suppress(RunNotFound):
            factory.get_cluster_service(backend).cancel(submitted[1])

    try:
        submission = submit_unless_canceled(
            factory.get_control_store(),
            control_id=inp.run.control_id,
            attempt_id=inp.attempt_id,
            kind="cluster",
            submit=submit,
            handle_of=lambda submitted: submitted[1].model_dump(mode="json"),
            cancel=cancel,
        )
    except (ClusterMappingError, ValidationError, ValueError) as exc:
        return ClusterSubmitResult(error=f"the task cannot be mapped to a {backend} run: {exc}")
    except InvalidRunRequest as exc:
        return ClusterSubmitResult(error=f"{backend} refused the run: {exc}")
    if submission.submitted is None:
        return ClusterSubmitResult(canceled=True)
    request, handle = submission.submitted
    if submission.canceled:
        return ClusterSubmitResult(handle=handle, canceled=True)
    _signal_when_ended(backend, handle, inp.signal_to, client)
    return ClusterSubmitResult(
        handle=handle,
        compute=compute_label(backend, request),
        compute_info=compute_info(backend, request),
        poll=schedule_from_settings(
            "cluster",
            factory.settings(),
            signals=isinstance(factory.get_cluster_service(backend), SignalsRunEnd),
        ),
    )


@activity_with_client(bp, CLUSTER_POLL)
def cluster_poll(inp: ClusterHandleInput, client: str | None) -> ClusterPollResult:
    handle = inp.handle
    service = factory.get_cluster_service(handle.backend)
    reason = factory.get_control_store().cancel_requested(inp.run_id)
    if reason is not None:
        with contextlib.suppress(RunNotFound):
            service.cancel(handle)
        return ClusterPollResult(terminal=True, state=TaskState.CANCELED, message=reason, canceled=True)
    state = service.get_state(handle)
    cluster = state.cluster.cluster_id if state.cluster else None
    start = state.start_time.isoformat() if state.start_time else None
    if not state.terminal:
        _signal_when_ended(handle.backend, handle, inp.signal_to, client)
        return ClusterPollResult(terminal=False, cluster=cluster, work_start=start)
    result = _RESULTS.get(state.result, TaskState.FAILED) if state.result else TaskState.FAILED
    message = state.message or next((t.message for t in state.tasks if t.message), "")
    return ClusterPollResult(
        terminal=True,
        state=result,
        message=message[:POLL_MESSAGE_LIMIT],
        cluster=cluster,
        work_start=start,
        work_end=state.end_time.isoformat() if state.end_time else None,
    )


@activity(bp, CLUSTER_FINISH)
def cluster_finish(inp: ClusterHandleInput) -> ClusterFinishResult:
    """The run's output: error, task values (small), logs stored as a blob reference."""
    handle = inp.handle
    service = factory.get_cluster_service(handle.backend)
    try:
        output = service.get_output(handle)
    except RunNotFound as exc:
        return ClusterFinishResult(error=str(exc))
    measured = _measured(service, handle)
    if not output.tasks:
        return ClusterFinishResult(measured=measured)
    task = output.tasks[0]
    log_ref = None
    if task.logs:
        log_ref = factory.get_blob_refs().put_text(
            f"logs/{_path(inp.attempt_id)}/{task.task_key}.log", task.logs
        )
    values = task.task_values
    if len(json.dumps(values, default=str)) > MAX_TASK_VALUES_BYTES:
        values = {"_truncated": f"task values larger than {MAX_TASK_VALUES_BYTES} bytes are not carried"}
    error = task.error if not task.error_trace else f"{task.error}\n{task.error_trace[-ERROR_TRACE_TAIL:]}"
    return ClusterFinishResult(
        error=error[:ERROR_LIMIT] if error else None,
        task_values=json.loads(json.dumps(values, default=str)),
        log_ref=log_ref,
        measured=measured,
    )


def _measured(service: object, handle: RunHandle) -> dict[str, Any]:
    """The node time of the run's cluster where the service reports it; a failed read loses only that."""
    if not isinstance(service, ReportsClusterNodes):
        return {}
    try:
        samples = service.node_samples(handle)
    except ClusterJobError:
        return {}
    return node_time_of(samples).compute_fields()


@activity(bp, CLUSTER_CANCEL)
def cluster_cancel(inp: ClusterHandleInput) -> bool:
    handle = inp.handle
    try:
        factory.get_cluster_service(handle.backend).cancel(handle)
    except RunNotFound:
        return False
    return True


def _path(attempt_id: str) -> str:
    return attempt_id.replace(":", "/")
