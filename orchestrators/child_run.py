"""`child_run`: one attempt of a `run_job_task` / ExecutePipeline: a child run, watched to its end.

Start the child (an ordinary run with its own id, derived from this attempt so a retried start finds it),
record the link on the task's row, then look at it with growing intervals. A stop of the parent (its
cancel marker: a cancel or the job's timeout) or this task's deadline is passed on to the child as a
cancel, and the attempt ends when the child has. `waitOnCompletion: false` ends the attempt once the
child started. Every `POLLS_PER_EXECUTION` polls the orchestration continues as new, so a child that
runs for days keeps this history short.
"""

from __future__ import annotations

from collections.abc import Generator
from datetime import timedelta
from typing import Any

import azure.durable_functions as df

from jobclusters.execution import registry
from jobclusters.execution.messages import (
    AttemptInput,
    ChildRunPollInput,
    ChildRunStartInput,
    ChildRunState,
    TaskOutcome,
    TaskRecordBatch,
    TaskRecordInput,
)
from jobclusters.execution.polling import CHILD_POLL, POLLS_PER_EXECUTION, next_fire_at, past
from jobclusters.spec.model import RunJobPayload, TaskState
from orchestrators.common import call_store, decode_input, dump, failure_message, iso, parse_iso, result_of

bp = df.Blueprint()


def _outcome(a: AttemptInput, context: Any, state: TaskState, **fields: Any) -> dict[str, Any]:
    return dump(TaskOutcome(state=state, start=a.started, end=iso(context.current_utc_datetime), **fields))


def _link_row(a: AttemptInput, child_run_id: str) -> TaskRecordBatch:
    run, task = a.run, a.run.task
    return TaskRecordBatch(
        rows=[
            TaskRecordInput(
                run_id=run.run_id,
                task_key=task.key,
                state=TaskState.RUNNING,
                attempt=a.attempt + 1,
                generation=run.repair_number,
                start=a.started,
                parameters=task.parameters,
                secure_input=task.secure_input,
                secure_output=task.secure_output,
                child_run_id=child_run_id,
            )
        ]
    )


@bp.orchestration_trigger(context_name="context")
def child_run(context: df.DurableOrchestrationContext) -> Generator[Any, Any, dict[str, Any]]:
    a = decode_input(context, registry.CHILD_RUN.input)
    if a.started is None:
        a.started = iso(context.current_utc_datetime)
    deadline = parse_iso(a.deadline)
    state = a.child
    if state is None:
        start = ChildRunStartInput(run=a.run, attempt_id=a.instance_id)
        try:
            started = yield from result_of(context, registry.START_CHILD_RUN, start)
        except Exception as exc:
            return _outcome(a, context, TaskState.FAILED, message=failure_message(exc))
        if started.canceled:
            return _outcome(a, context, TaskState.CANCELED, message="the run was canceled")
        if started.error is not None or started.child_run_id is None:
            return _outcome(a, context, TaskState.FAILED, message=started.error or "no child run started")
        yield call_store(context, registry.RECORD_TASK_RUNS, _link_row(a, started.child_run_id))
        payload = a.run.task.payload
        if isinstance(payload, RunJobPayload) and not payload.wait_on_completion:
            return _outcome(
                a,
                context,
                TaskState.SUCCESS,
                child_run_id=started.child_run_id,
                task_values={"child_run_id": started.child_run_id, "pipelineRunId": started.child_run_id},
            )
        state = ChildRunState(child_run_id=started.child_run_id)
    context.set_custom_status({"child_run_id": state.child_run_id, "polls": state.polls})
    timed_out = False
    while True:
        now = context.current_utc_datetime
        interval = CHILD_POLL.next_interval(state.interval)
        yield context.create_timer(next_fire_at(now, interval, None if state.cancel_sent else deadline))
        state.interval = interval
        stop_reason = None
        if past(deadline, context.current_utc_datetime):
            timed_out = True
            limit = a.run.task.timeout_seconds or 0
            stop_reason = f"the parent task timed out after {timedelta(seconds=limit)}"
        poll = yield from result_of(
            context,
            registry.POLL_CHILD_RUN,
            ChildRunPollInput(
                child_run_id=state.child_run_id,
                control_id=a.run.control_id,
                stop_reason=stop_reason,
                cancel_sent=state.cancel_sent,
            ),
        )
        state.polls += 1
        state.cancel_sent = state.cancel_sent or poll.cancel_sent
        if poll.done:
            end_state = poll.state or TaskState.FAILED
            message = poll.message
            if timed_out and end_state != TaskState.SUCCESS:
                end_state = TaskState.TIMEDOUT
                message = f"{stop_reason}; {message}" if message else stop_reason
            return _outcome(
                a,
                context,
                end_state,
                message=message,
                child_run_id=state.child_run_id,
                remote_id=state.child_run_id,
                task_values=poll.values,
                details={"polls": state.polls},
            )
        if state.polls % POLLS_PER_EXECUTION == 0:
            context.continue_as_new(dump(a.model_copy(update={"child": state})))
            return {}
