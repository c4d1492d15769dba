"""`until`: an ADF Until, its inner activities run pass after pass until its expression is true.

Each pass is a `run_block` (the body's sub-DAG walked by `run_job`'s walk, rows under `<task>[<pass>]/...`,
the pass itself under `<task>[<pass>]`, so the run view lists the passes as iterations). The expression is
checked after each pass, against the variables the pass left and the outputs of the pass's activities. A
failed pass fails the Until. Past the `timeout` cap (from the Until's start) it ends TIMEDOUT. A pass
running then is stopped at the cap: its tasks' timeouts are capped at the deadline (`BlockInput.deadline`,
kept at any depth: `jobclusters.execution.deadlines`), so the timeout that kills a task's work stops it,
and the Until waits for the pass to end. Only a pass
still running `BACKSTOP_SECONDS` after the cap (something in it did not stop) is left to end on its own.
One pass per execution: the
orchestrator continues as new after each, so its history does not grow with the number of passes.
A cancel ends it CANCELED: the run's cancel event, passed on to the running pass too (`pass_cancel_on`),
or, where that event was lost, the run's cancel marker, read before each pass after the first.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import azure.durable_functions as df

from jobclusters.execution import registry
from jobclusters.execution.control_messages import BlockInput, BlockResult, CancelCheckInput, UntilInput
from jobclusters.execution.deadlines import earliest
from jobclusters.execution.ids import task_instance_id
from jobclusters.execution.messages import TaskOutcome
from jobclusters.execution.task_rows import task_row
from jobclusters.run_request import CANCEL_EVENT, cancel_message
from jobclusters.spec.for_each import ITERATIONS_TOTAL, iteration_key
from jobclusters.spec.model import TaskState, UntilPayload
from jobclusters.spec.templating import TemplateError, render
from orchestrators.common import (
    call_orchestrator,
    call_store,
    decode_input,
    dump,
    failure_message,
    iso,
    pass_cancel_on,
    result_of,
)

bp = df.Blueprint()

#: how long after its deadline an Until still waits for a pass its capped timeouts are stopping
BACKSTOP_SECONDS = 300


def exit_condition(expression: str, state: UntilInput, result: BlockResult, path: str) -> bool:
    """The Until's expression after a pass; it must be a boolean, as ADF requires."""
    scope = state.scope.model_copy(
        update={
            "variables": result.variables,
            "activity_outputs": {**state.scope.activity_outputs, **result.outputs},
        }
    )
    value = render(expression, scope, path)
    if not isinstance(value, bool):
        raise TemplateError(path, f"the Until's expression must be true or false, got {value!r}")
    return value


@bp.orchestration_trigger(context_name="context")
def until(context: df.DurableOrchestrationContext) -> Generator[Any, Any, dict[str, Any] | None]:
    state = decode_input(context, registry.UNTIL.input)
    run, task = state.task_run, state.task_run.task
    payload = task.payload
    assert isinstance(payload, UntilPayload)
    start = state.start or iso(context.current_utc_datetime)
    own = iso(datetime.fromisoformat(start) + timedelta(seconds=payload.timeout_seconds))
    deadline = datetime.fromisoformat(earliest(own, state.outer_deadline) or own)
    if state.passes == 0:
        yield call_store(context, registry.RECORD_TASK_RUNS, task_row(run, TaskState.RUNNING, 0, start=start))
    else:
        check = CancelCheckInput(control_id=run.control_id)
        reason = yield from result_of(context, registry.CANCEL_REQUESTED, check)
        if reason is not None:
            ended = _Ended(TaskState.CANCELED, f"canceled: {reason}", state.passes, state.variables)
            return (yield from _end(context, state, start, ended))
        if context.current_utc_datetime >= deadline:  # no pass starts past the cap
            late = (
                f"timed out after {timedelta(seconds=payload.timeout_seconds)}; {state.passes} passes ended"
            )
            ended = _Ended(TaskState.TIMEDOUT, late, state.passes, state.variables)
            return (yield from _end(context, state, start, ended))
    key = iteration_key(task.key, state.passes)
    block = BlockInput(
        request=state.body,
        scope=state.scope.model_copy(update={"variables": state.variables}),
        row_key=key,
        deadline=iso(deadline),
    )
    context.set_custom_status({"iterations": f"pass {state.passes + 1}"})
    instance = task_instance_id(run.control_id, key, run.repair_number)
    child = call_orchestrator(context, registry.RUN_BLOCK, block, instance)
    timer = context.create_timer(deadline + timedelta(seconds=BACKSTOP_SECONDS))
    cancel = context.wait_for_external_event(CANCEL_EVENT)
    winner = yield context.task_any([child, timer, cancel])
    if winner is cancel:  # the pass gets it too and writes its own rows as it stops
        timer.cancel()
        yield from pass_cancel_on(context, [instance], cancel.result)
        ended = _Ended(TaskState.CANCELED, cancel_message(cancel.result), state.passes, state.variables)
        return (yield from _end(context, state, start, ended))
    passes = state.passes + 1
    variables = state.variables
    end_state: TaskState | None = TaskState.TIMEDOUT
    message: str | None = f"timed out after {timedelta(seconds=payload.timeout_seconds)}"
    if winner is not timer:
        timer.cancel()
        if isinstance(child.result, Exception):
            end_state, message = TaskState.FAILED, f"pass {passes}: {failure_message(child.result)}"
        else:
            result = registry.RUN_BLOCK.read(child.result)
            variables = result.variables
            end_state, message = _after_pass(
                state, result, passes, payload, context.current_utc_datetime, deadline
            )
            if result.state != TaskState.SUCCESS and context.current_utc_datetime >= deadline:
                end_state = TaskState.TIMEDOUT  # the pass was stopped at the Until's deadline
                message = (
                    f"timed out after {timedelta(seconds=payload.timeout_seconds)}; pass {passes} was stopped"
                )
            if end_state is None:
                carried = state.model_copy(update={"passes": passes, "variables": variables, "start": start})
                context.continue_as_new(dump(carried))
                return None
    end_state = end_state or TaskState.FAILED
    if end_state == TaskState.TIMEDOUT:
        message = f"{message}; {passes if winner is not timer else state.passes} passes ended"
    return (yield from _end(context, state, start, _Ended(end_state, message, passes, variables)))


@dataclass(frozen=True)
class _Ended:
    state: TaskState
    message: str | None
    passes: int
    variables: dict[str, Any]


def _end(context: Any, state: UntilInput, start: str, ended: _Ended) -> Generator[Any, Any, dict[str, Any]]:
    """The Until's last row and its outcome, the variables for the rest of the run in its details."""
    end = iso(context.current_utc_datetime)
    yield call_store(
        context,
        registry.RECORD_TASK_RUNS,
        task_row(
            state.task_run,
            ended.state,
            0,
            start=start,
            end=end,
            message=ended.message,
            parameters={ITERATIONS_TOTAL: ended.passes},
        ),
    )
    return dump(
        TaskOutcome(
            state=ended.state,
            attempts=1,
            message=ended.message,
            start=start,
            end=end,
            details={"iterations": {"total": ended.passes}, "variables": ended.variables},
        )
    )


def _after_pass(
    state: UntilInput,
    result: BlockResult,
    passes: int,
    payload: UntilPayload,
    now: datetime,
    deadline: datetime,
) -> tuple[TaskState | None, str | None]:
    """(how the Until ends, its message) after a pass; (None, None) when another pass runs."""
    if result.state != TaskState.SUCCESS:
        return result.state, f"pass {passes}: {result.message or result.state.value}"
    path = f"{state.task_run.task.source_path or '$'}.typeProperties.expression"
    try:
        if exit_condition(payload.expression, state, result, path):
            return TaskState.SUCCESS, None
    except (TemplateError, ValueError) as exc:
        return TaskState.FAILED, str(exc)
    if now >= deadline:
        return TaskState.TIMEDOUT, f"timed out after {timedelta(seconds=payload.timeout_seconds)}"
    return None, None
