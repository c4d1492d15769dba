"""What a Batch attempt ended as, from its state and what finishing it found: one implementation for the
`batch_fanout` orchestrator and for the activity that finishes a one-command attempt run inline by
`run_task` (and records it in the same call)."""

from __future__ import annotations

from typing import Any

from jobclusters.execution.exit_codes import fanout_exit_code
from jobclusters.execution.messages import BatchFinishResult, BatchStartResult, FanoutState, TaskOutcome
from jobclusters.execution.node_time import with_measured
from jobclusters.execution.work_times import attempt_times
from jobclusters.failed_inputs import FailedInput, FailedInputs
from jobclusters.spec.model import TaskState


def failed_inputs(finish: BatchFinishResult) -> FailedInputs | None:
    if not finish.failed_count:
        return None
    listed = [FailedInput.model_validate(t) for t in finish.failed_tasks]
    return FailedInputs(count=finish.failed_count, listed=listed, ref=finish.failed_ref)


def _failed_message(st: FanoutState, finish: BatchFinishResult) -> str:
    failed = max(finish.failed_count, st.counts.get("failed", 0))
    text = f"{failed} of {st.count} Batch task(s) failed"
    inputs = failed_inputs(finish)
    if inputs is not None:
        text += f": {inputs.describe()}"
    return text


def final_outcome(st: FanoutState, finish: BatchFinishResult) -> tuple[TaskState, str | None]:
    if st.canceled:
        return TaskState.CANCELED, "the run was canceled; the Batch job was terminated"
    if st.timed_out:
        return TaskState.TIMEDOUT, "timed out; the Batch job was terminated"
    if st.message:
        return TaskState.FAILED, st.message
    if finish.failed_count or st.counts.get("failed", 0):
        return TaskState.FAILED, _failed_message(st, finish)
    return TaskState.SUCCESS, None


def _with_node_time(st: FanoutState) -> dict[str, Any] | None:
    """The compute the attempt had, with the node time its polls measured (what pricing prefers)."""
    return with_measured(st.compute_info, st.node_time.compute_fields() if st.node_time else {})


def early_outcome(
    st: FanoutState, started: str, now: str, state: TaskState, message: str | None, **fields: Any
) -> TaskOutcome:
    """The outcome with the attempt's times: the work's own where the service gave them."""
    times = attempt_times(started, now, st.work_start, st.work_end)
    return TaskOutcome(
        state=state,
        message=message,
        start=times.start,
        end=times.end,
        queue_seconds=times.queue_seconds,
        compute=st.compute,
        compute_info=_with_node_time(st),
        remote_id=st.job_id,
        **fields,
    )


def finished_outcome(st: FanoutState, finish: BatchFinishResult, started: str, now: str) -> TaskOutcome:
    state, message = final_outcome(st, finish)
    first_log = next(
        (t.get("log_urls", {}).get("stderr.txt") for t in finish.failed_tasks if t.get("log_urls")), None
    )
    return early_outcome(
        st,
        started,
        now,
        state,
        message,
        log_ref=first_log,
        log_refs=finish.log_refs,
        failed_inputs=failed_inputs(finish) if state == TaskState.FAILED else None,
        exit_code=fanout_exit_code(state, finish.failed_tasks, st.count),
        details={
            "inputs": st.count,
            "counts": st.counts,
            "failed_count": finish.failed_count,
            "failed_tasks": finish.failed_tasks,
            "pool_deleted": finish.pool_deleted,
        },
    )


def started_state(start: BatchStartResult) -> FanoutState:
    """A one-command attempt's state once `batch_start` returned: polling its one task."""
    prep = start.prepare
    return FanoutState(
        count=1,
        phase="poll",
        pool_ref=prep.pool_ref,
        job_id=prep.job_id,
        compute=prep.compute,
        compute_info=prep.compute_info,
        canceled=prep.canceled,
        message=start.add_error,
        poll=prep.poll,
    )
