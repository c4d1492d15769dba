"""`cluster_run`: one attempt of a Spark/Hadoop task on a cluster.

Submit (idempotent key: run id + task key + repair + attempt), then poll with growing intervals; the poll
timer never passes the attempt's deadline, and at the deadline the remote run is cancelled (TIMEDOUT).
Every `POLLS_PER_EXECUTION` polls the orchestration continues as new with the handle and interval, so a
run that polls for days keeps a short history. The attempt records the remote run's own start and end
(with the wait before it as `queue_seconds`), not when the polls saw them.
"""

from __future__ import annotations

from collections.abc import Generator
from datetime import timedelta
from typing import Any

import azure.durable_functions as df

from jobclusters.execution import registry
from jobclusters.execution.messages import (
    AttemptInput,
    ClusterHandleInput,
    ClusterPollState,
    ClusterSubmitInput,
    TaskOutcome,
)
from jobclusters.execution.node_time import with_measured
from jobclusters.execution.polling import CLUSTER_POLL, POLLS_PER_EXECUTION, past
from jobclusters.execution.work_times import attempt_times
from jobclusters.services.cluster import idempotency_token
from jobclusters.spec.model import TaskState
from orchestrators.common import decode_input, dump, failure_message, iso, parse_iso, result_of
from orchestrators.wait_for_work import signal_to, wait_for_work

bp = df.Blueprint()


def _outcome(
    a: AttemptInput,
    context: Any,
    state: TaskState,
    work: tuple[str | None, str | None] = (None, None),
    **fields: Any,
) -> dict[str, Any]:
    """`work`: the remote run's own (start, end), recorded instead of when the polls saw it."""
    assert a.started is not None
    times = attempt_times(a.started, iso(context.current_utc_datetime), *work)
    return dump(
        TaskOutcome(
            state=state,
            start=times.start,
            end=times.end,
            queue_seconds=times.queue_seconds,
            **fields,
        )
    )


@bp.orchestration_trigger(context_name="context")
def cluster_run(context: df.DurableOrchestrationContext) -> Generator[Any, Any, dict[str, Any]]:
    a = decode_input(context, registry.CLUSTER_RUN.input)
    run = a.run
    if a.started is None:
        a.started = iso(context.current_utc_datetime)
    deadline = parse_iso(a.deadline)
    state = a.cluster
    if state is None:
        key = idempotency_token(a.instance_id)
        submit = ClusterSubmitInput(
            run=run, attempt_id=a.instance_id, idempotency_key=key, signal_to=context.instance_id
        )
        try:
            submitted = yield from result_of(context, registry.CLUSTER_SUBMIT, submit)
        except Exception as exc:
            return _outcome(a, context, TaskState.FAILED, message=failure_message(exc))
        if submitted.error is not None:
            return _outcome(a, context, TaskState.FAILED, message=submitted.error)
        if submitted.canceled or submitted.handle is None:
            return _outcome(a, context, TaskState.CANCELED, message="the run was canceled")
        state = ClusterPollState(
            handle=submitted.handle,
            compute=submitted.compute,
            compute_info=submitted.compute_info,
            poll=submitted.poll,
        )
    context.set_custom_status({"remote_run": state.handle.run_id, "polls": state.polls})
    compute, compute_info = state.compute, state.compute_info
    schedule = state.poll or CLUSTER_POLL
    ref = ClusterHandleInput(
        run_id=run.control_id,
        attempt_id=a.instance_id,
        task_key=run.task.key,
        handle=state.handle,
        signal_to=signal_to(context, schedule),
    )
    remote_id = state.handle.run_id
    while True:
        now = context.current_utc_datetime
        if not past(deadline, now):
            interval = schedule.next_interval(state.interval)
            yield from wait_for_work(context, schedule, interval, deadline)
            state.interval = interval
        if past(deadline, context.current_utc_datetime):
            yield from result_of(context, registry.CLUSTER_CANCEL, ref)
            finish = yield from result_of(context, registry.CLUSTER_FINISH, ref)
            limit = run.task.timeout_seconds or 0
            return _outcome(
                a,
                context,
                TaskState.TIMEDOUT,
                (state.work_start, None),
                message=f"timed out after {timedelta(seconds=limit)}; the remote run was cancelled",
                log_ref=finish.log_ref,
                remote_id=remote_id,
                compute=compute,
                compute_info=compute_info,
            )
        poll = yield from result_of(context, registry.CLUSTER_POLL, ref)
        state.polls += 1
        state.work_start = poll.work_start or state.work_start
        if poll.terminal:
            finish = yield from result_of(context, registry.CLUSTER_FINISH, ref)
            result = poll.state or TaskState.FAILED
            return _outcome(
                a,
                context,
                result,
                (state.work_start, poll.work_end),
                message=None if result == TaskState.SUCCESS else (finish.error or poll.message or None),
                task_values=finish.task_values,
                log_ref=finish.log_ref,
                remote_id=remote_id,
                compute=compute,
                compute_info=with_measured(compute_info, finish.measured),
                details={"polls": state.polls},
            )
        if state.polls % POLLS_PER_EXECUTION == 0:
            context.continue_as_new(dump(a.model_copy(update={"cluster": state})))
            return {}
