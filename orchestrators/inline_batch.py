"""A one-command Batch attempt run by `run_task` itself, without a `batch_fanout` sub-orchestration.

A command without a fan-out is one Batch task: planning a manifest, a sub-orchestration and separate
record, prepare, add, poll and finish calls are hops that cost episodes, queue messages and table writes
on Azure (and latency everywhere) for no work. Here the attempt is two activities: `batch_start` (the
RUNNING row, pool, job and task) and `batch_check` (a poll; once the task ended, its finish and its row),
with the wait between them on the poll timer or, locally, the executor's `work_ended` signal. Where the
executor signals, `batch_start` itself waits out the first poll interval for the task to end and then
makes that poll: a task done by then (most local ones) is one activity and two episodes. Cancel,
timeouts and retries behave as in `batch_fanout`; every `POLLS_PER_EXECUTION` polls `run_task` continues
as new with the attempt's state (`TaskRunInput.inline`), so the history stays bounded. Deterministic.
"""

from __future__ import annotations

from collections.abc import Generator
from datetime import datetime
from typing import Any, Literal

from jobclusters.execution import registry
from jobclusters.execution.batch_logs import log_prefix
from jobclusters.execution.fanout_outcome import early_outcome, started_state
from jobclusters.execution.messages import (
    BatchCheckInput,
    BatchFinishInput,
    BatchStartInput,
    FanoutState,
    InlineAttempt,
    TaskOutcome,
    TaskRunInput,
)
from jobclusters.execution.polling import BATCH_POLL, POLLS_PER_EXECUTION, past
from jobclusters.execution.task_rows import task_row
from jobclusters.spec.model import CommandPayload, TaskState
from orchestrators.common import failure_message, iso, result_of
from orchestrators.wait_for_work import signal_to, wait_for_work


def runs_inline(run: TaskRunInput) -> bool:
    """A command with no fan-out (and no inputs to rerun): one Batch task."""
    payload = run.task.payload
    return isinstance(payload, CommandPayload) and payload.fan_out is None and run.rerun_inputs is None


class ContinuedAsNew:
    """The attempt goes on in the next execution of `run_task` (its state is in `TaskRunInput.inline`)."""

    def __init__(self, state: InlineAttempt) -> None:
        self.state = state


def inline_attempt(
    context: Any,
    run: TaskRunInput,
    attempt: int,
    attempt_id: str,
    started: datetime,
    deadline: datetime | None,
) -> Generator[Any, Any, tuple[TaskOutcome, bool] | ContinuedAsNew]:
    """`yield from` this: (outcome, whether its row is recorded), or `ContinuedAsNew` between polls."""
    plain = run.model_copy(update={"inline": None})
    logs_at = log_prefix(run.control_id, run.task.key, attempt + 1)
    resumed = run.inline
    if resumed is not None:
        st, begun = resumed.fanout, resumed.started
    else:
        begun = iso(started)
        st = FanoutState(count=1, phase="poll")
        start = BatchStartInput(
            run=plain,
            attempt_id=attempt_id,
            owner=run.pool_owner or context.instance_id,
            row=task_row(plain, TaskState.RUNNING, attempt, start=begun),
            log_prefix=logs_at,
            signal_to=context.instance_id,
            attempt=attempt,
            started=begun,
            deadline=_iso(deadline),
        )
        try:
            result = yield from result_of(context, registry.BATCH_START, start)
        except Exception as exc:
            return _early(context, st, begun, TaskState.FAILED, failure_message(exc)), False
        if result.prepare.error is not None:
            return _early(context, st, begun, TaskState.FAILED, result.prepare.error), False
        if result.checked is not None and result.checked.outcome is not None:
            return result.checked.outcome, True
        st = started_state(result)
    schedule = st.poll or BATCH_POLL
    while True:
        stop: Literal["timeout"] | None = None
        if not (st.canceled or st.message):
            if not past(deadline, context.current_utc_datetime):
                interval = schedule.next_interval(st.interval)
                yield from wait_for_work(context, schedule, interval, deadline)
                st.interval = interval
            if past(deadline, context.current_utc_datetime):
                stop = "timeout"
        check = BatchCheckInput(
            run=plain,
            attempt=attempt,
            started=begun,
            fanout=st,
            log_prefix=logs_at,
            stop=stop,
            signal_to=signal_to(context, schedule),
        )
        try:
            checked = yield from result_of(context, registry.BATCH_CHECK, check)
        except Exception as exc:  # an outage past the bound: still terminate the job, delete the pool
            st.message = f"the Batch job could not be polled: {failure_message(exc)}"
            yield from result_of(
                context,
                registry.BATCH_FINISH,
                BatchFinishInput(job_id=st.job_id, pool_ref=st.pool_ref, collect_failures=False),
            )
            return _early(context, st, begun, TaskState.FAILED, st.message), False
        st = checked.fanout
        if checked.outcome is not None:
            return checked.outcome, True
        status = {"state": TaskState.RUNNING.value, "attempts": attempt + 1, "attempt_id": attempt_id}
        context.set_custom_status({**status, **st.counts})
        if st.polls % POLLS_PER_EXECUTION == 0:
            state = InlineAttempt(attempt=attempt, started=begun, deadline=_iso(deadline), fanout=st)
            return ContinuedAsNew(state)


def _early(context: Any, st: FanoutState, begun: str, state: TaskState, message: str) -> TaskOutcome:
    return early_outcome(st, begun, iso(context.current_utc_datetime), state, message)


def _iso(moment: datetime | None) -> str | None:
    return iso(moment) if moment is not None else None
