"""`data_activity`: one attempt of a WebActivity, GetMetadata or Lookup, raced against the task's deadline.

The work is one activity call; its output becomes the task's `task_values` (what `@activity('x').output`
reads). At the deadline the attempt ends TIMEDOUT without waiting for the call (the call's own timeout
bounds it), so the task's retry policy decides what comes next.
"""

from __future__ import annotations

from collections.abc import Generator
from datetime import timedelta
from typing import Any

import azure.durable_functions as df

from jobclusters.execution import registry
from jobclusters.execution.messages import DataActivityInput, TaskOutcome
from jobclusters.spec.model import TaskState
from orchestrators.common import call, decode_input, dump, failure_message, iso, parse_iso

bp = df.Blueprint()


@bp.orchestration_trigger(context_name="context")
def data_activity(context: df.DurableOrchestrationContext) -> Generator[Any, Any, dict[str, Any]]:
    a = decode_input(context, registry.DATA_ACTIVITY.input)
    started = a.started or iso(context.current_utc_datetime)
    deadline = parse_iso(a.deadline)
    work = call(context, registry.RUN_DATA_ACTIVITY, DataActivityInput(run=a.run))
    timer = context.create_timer(deadline) if deadline is not None else None
    try:
        winner = yield (context.task_any([work, timer]) if timer is not None else work)
    except Exception as exc:
        return dump(
            TaskOutcome(
                state=TaskState.FAILED,
                message=failure_message(exc),
                start=started,
                end=iso(context.current_utc_datetime),
            )
        )
    end = iso(context.current_utc_datetime)
    if timer is not None and winner is timer:
        limit = timedelta(seconds=a.run.task.timeout_seconds or 0)
        return dump(
            TaskOutcome(state=TaskState.TIMEDOUT, message=f"timed out after {limit}", start=started, end=end)
        )
    if timer is not None:
        timer.cancel()
        raw = work.result
    else:
        raw = winner
    if isinstance(raw, Exception):
        return dump(TaskOutcome(state=TaskState.FAILED, message=failure_message(raw), start=started, end=end))
    result = registry.RUN_DATA_ACTIVITY.read(raw)
    return dump(
        TaskOutcome(
            state=result.state, message=result.message, task_values=result.output, start=started, end=end
        )
    )
