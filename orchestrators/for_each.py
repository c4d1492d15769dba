"""`for_each` and `for_each_chunk`: a Databricks `for_each_task` run as chunks of iterations.

`for_each` splits the iterations into chunks (`jobclusters.spec.for_each`), runs one chunk per lane at a
time as a `for_each_chunk` sub-orchestration (the lanes share the task's concurrency), and continues as
new every `CHUNKS_PER_EXECUTION` chunks, so its history does not grow with the input count. A chunk runs
each iteration as a `run_task` sub-orchestration of the nested task rendered with its input (its own
retries, timeout and task rows, under the key `<task>[<index>]`), `concurrency` at a time; a one-command
iteration starts as a quick start first, as a task of `run_job` does (`quick_batch`). Iterations go
on when one fails; the for_each task then ends FAILED, its failed iterations listed for a repair, which
runs only them. A cancel stops new iterations from starting: the run's cancel event, which `for_each`
passes on to its chunks and a chunk to its running ADF bodies (`pass_cancel_on`), or an iteration that
ended CANCELED (it saw the run's cancel marker).

An ADF ForEach whose body has several activities runs each iteration as a `run_block` instead (the body's
sub-DAG walked by `run_job`'s walk, `@item()` the iteration's input, rows under `<task>[<index>]/<inner>`);
the chunk reads the run's cancel marker before each wave of starts after its first.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import azure.durable_functions as df

from jobclusters.execution import registry
from jobclusters.execution.control_messages import (
    BlockInput,
    CancelCheckInput,
    ChunkInput,
    ChunkResult,
    IterationResult,
)
from jobclusters.execution.deadlines import NOT_STARTED, capped, seconds_left
from jobclusters.execution.ids import task_instance_id
from jobclusters.execution.messages import TaskOutcome, TaskRunInput
from jobclusters.execution.rendering import render_task
from jobclusters.execution.task_rows import task_row
from jobclusters.failed_inputs import FailedInput, FailedInputs
from jobclusters.run_request import CANCEL_EVENT, cancel_message
from jobclusters.spec.for_each import (
    ITERATION_INPUT,
    ITERATIONS_TOTAL,
    Tally,
    apply_changes,
    chunks,
    iteration_key,
    lane_concurrency,
    variable_changes,
)
from jobclusters.spec.model import ForEachPayload, TaskState
from jobclusters.spec.templating import TemplateError
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
from orchestrators.quick_batch import QuickStart, after_quick, start_quick, starts_quick

bp = df.Blueprint()

#: chunks one execution of `for_each` starts before it continues as new (about 8 history events each)
CHUNKS_PER_EXECUTION = 40
#: a failed iteration's message as kept in the for_each task's message
_FIRST_FAILURE_LIMIT = 500


def _chunk_id(context: Any, number: int) -> str:
    return f"{context.instance_id}:c{number}"


@bp.orchestration_trigger(context_name="context")
def for_each(context: df.DurableOrchestrationContext) -> Generator[Any, Any, dict[str, Any] | None]:
    state = decode_input(context, registry.FOR_EACH.input)
    run = state.task_run
    indexes = state.indexes if state.indexes is not None else list(range(len(state.inputs)))
    work = chunks(indexes)
    lanes = lane_concurrency(state.concurrency, len(work))
    start = state.start or iso(context.current_utc_datetime)
    tally = Tally(total=len(indexes), succeeded=state.succeeded, failed=len(state.failed))
    failed = list(state.failed)
    first_failure = state.first_failure
    variables = state.variables if state.variables is not None else dict(state.context.variables)
    if state.executions == 1:
        yield call_store(
            context,
            registry.RECORD_TASK_RUNS,
            task_row(
                run,
                TaskState.RUNNING,
                0,
                start=start,
                parameters={ITERATIONS_TOTAL: len(state.inputs)},
            ),
        )
    running: dict[int, Any] = {}
    chunk_ids: dict[int, str] = {}
    cancel = context.wait_for_external_event(CANCEL_EVENT)
    stopped: str | None = None  # the cancel's message, once its event came
    next_chunk, started_here, canceled = state.next_chunk, 0, False
    while True:
        started = False
        for lane, concurrency in enumerate(lanes):
            if lane in running or next_chunk >= len(work) or started_here >= CHUNKS_PER_EXECUTION or canceled:
                continue
            chunk = ChunkInput(
                task_run=run,
                context=state.context,
                iterations={i: state.inputs[i] for i in work[next_chunk]},
                concurrency=concurrency,
                block=state.block,
                deadline=state.deadline,
            )
            chunk_ids[lane] = _chunk_id(context, next_chunk)
            running[lane] = call_orchestrator(context, registry.FOR_EACH_CHUNK, chunk, chunk_ids[lane])
            next_chunk, started_here, started = next_chunk + 1, started_here + 1, True
        context.set_custom_status(
            {"iterations": tally.describe(), "failed": tally.failed, "total": tally.total}
        )
        if not running:
            break
        waiting = list(running.values())
        if not cancel.is_completed:
            waiting.append(cancel)
        if started:
            waiting.append(context.create_timer(context.current_utc_datetime))
        if (yield context.task_any(waiting)) is cancel:
            canceled, stopped = True, cancel_message(cancel.result)
            yield from pass_cancel_on(context, [chunk_ids[lane] for lane in running], cancel.result)
            continue
        for lane, child in list(running.items()):
            if not child.is_completed:
                continue
            del running[lane]
            result = _chunk_result(child.result)
            for iteration in result.iterations:
                variables = apply_changes(variables, iteration.set_variables, iteration.appended)
                if iteration.state == TaskState.SUCCESS:
                    tally = Tally(tally.total, tally.succeeded + 1, tally.failed)
                    continue
                tally = Tally(tally.total, tally.succeeded, tally.failed + 1)
                failed.append(iteration.index)
                canceled = canceled or iteration.state == TaskState.CANCELED
                if first_failure is None:
                    first_failure = f"[{iteration.index}] {iteration.message or iteration.state.value}"
    if next_chunk < len(work) and not canceled:
        carried = state.model_copy(
            update={
                "next_chunk": next_chunk,
                "succeeded": tally.succeeded,
                "failed": failed,
                "first_failure": first_failure,
                "start": start,
                "executions": state.executions + 1,
                "variables": variables,
            }
        )
        context.continue_as_new(dump(carried))
        return None
    outcome = _outcome(run, tally, sorted(failed), first_failure, start, iso(context.current_utc_datetime))
    if canceled:
        outcome.state = TaskState.CANCELED
        outcome.message = stopped or outcome.message
    if state.block is not None:
        outcome.details["variables"] = variables
    yield call_store(
        context,
        registry.RECORD_TASK_RUNS,
        task_row(
            run,
            outcome.state,
            0,
            start=start,
            end=outcome.end,
            message=outcome.message,
            parameters={ITERATIONS_TOTAL: len(state.inputs)},
        ),
    )
    return dump(outcome)


def _chunk_result(raw: Any) -> ChunkResult:
    if isinstance(raw, Exception):
        # a chunk that failed as a whole: its iterations are unknown, so the task fails and says why
        return ChunkResult(
            iterations=[IterationResult(index=-1, state=TaskState.FAILED, message=failure_message(raw))]
        )
    return registry.FOR_EACH_CHUNK.read(raw)


def _outcome(
    run: TaskRunInput, tally: Tally, failed: list[int], first_failure: str | None, start: str, end: str
) -> TaskOutcome:
    message = None
    if tally.failed:
        message = f"{tally.failed} of {tally.total} iterations failed; first: {first_failure}"
    listed = [FailedInput(index=i, task_id=iteration_key(run.task.key, i)) for i in failed if i >= 0]
    return TaskOutcome(
        state=tally.state(),
        attempts=1,
        message=message[:_FIRST_FAILURE_LIMIT] if message else None,
        start=start,
        end=end,
        details={"iterations": {"total": tally.total, "succeeded": tally.succeeded, "failed": tally.failed}},
        failed_inputs=FailedInputs(count=len(listed), listed=listed) if listed else None,
    )


@bp.orchestration_trigger(context_name="context")
def for_each_chunk(context: df.DurableOrchestrationContext) -> Generator[Any, Any, dict[str, Any]]:
    chunk = decode_input(context, registry.FOR_EACH_CHUNK.input)
    pending = sorted(chunk.iterations.items())
    running: dict[int, Any] = {}
    quick: dict[int, QuickStart] = {}
    handed = False
    results: list[IterationResult] = []
    cancel = context.wait_for_external_event(CANCEL_EVENT)
    stopped = "the run was canceled"  # the cancel's message once the event came
    canceled = False
    checked = False
    while pending or running:
        started, handed = handed, False
        if chunk.block is not None and pending and len(running) < chunk.concurrency and not canceled:
            # a body of inline activities never sees the cancel marker itself: read it before each wave
            if checked:
                check = CancelCheckInput(control_id=chunk.task_run.control_id)
                canceled = (yield from result_of(context, registry.CANCEL_REQUESTED, check)) is not None
            checked = True
        while pending and len(running) < chunk.concurrency and not canceled:
            index, value = pending.pop(0)
            instance = _iteration_instance(chunk, index)
            left = seconds_left(chunk.deadline, context.current_utc_datetime)
            if left is not None and left <= 0:
                results.append(IterationResult(index=index, state=TaskState.TIMEDOUT, message=NOT_STARTED))
                continue
            if chunk.block is not None:
                running[index] = call_orchestrator(
                    context, registry.RUN_BLOCK, _iteration_block(chunk, index, value), instance
                )
                started = True
                continue
            try:
                iteration = _iteration_run(chunk, index, value, left)
            except (TemplateError, ValueError) as exc:
                results.append(IterationResult(index=index, state=TaskState.FAILED, message=str(exc)))
                continue
            if starts_quick(iteration):
                running[index], quick[index] = start_quick(context, iteration, instance)
                continue
            running[index] = call_orchestrator(context, registry.RUN_TASK, iteration, instance)
            started = True
        if not running:
            if canceled:
                break
            continue
        waiting = list(running.values())
        if not cancel.is_completed:
            waiting.append(cancel)
        if started:
            waiting.append(context.create_timer(context.current_utc_datetime))
        if (yield context.task_any(waiting)) is cancel:
            canceled, stopped = True, cancel_message(cancel.result)
            blocks = [_iteration_instance(chunk, i) for i in running if chunk.block is not None]
            yield from pass_cancel_on(context, blocks, cancel.result)
            continue
        for index, child in list(running.items()):
            if not child.is_completed:
                continue
            del running[index]
            first = quick.pop(index, None)
            if first is not None:
                taken = after_quick(first, child.result, stopped=canceled)
                if isinstance(taken, TaskRunInput):
                    running[index] = call_orchestrator(context, registry.RUN_TASK, taken, first.child_id)
                    handed = True
                    continue
                result = IterationResult(index=index, state=taken.state, message=taken.message)
            elif isinstance(child.result, Exception):
                result = IterationResult(
                    index=index, state=TaskState.FAILED, message=failure_message(child.result)
                )
            elif chunk.block is not None:
                body = registry.RUN_BLOCK.read(child.result)
                changed, appended = variable_changes(chunk.context.variables, body.variables)
                result = IterationResult(
                    index=index,
                    state=body.state,
                    message=body.message,
                    set_variables=changed,
                    appended=appended,
                )
            else:
                outcome = registry.RUN_TASK.read(child.result)
                result = IterationResult(index=index, state=outcome.state, message=outcome.message)
            canceled = canceled or result.state == TaskState.CANCELED
            results.append(result)
    results += [IterationResult(index=i, state=TaskState.CANCELED, message=stopped) for i, _ in pending]
    return dump(ChunkResult(iterations=sorted(results, key=lambda r: r.index)))


def _iteration_run(chunk: ChunkInput, index: int, value: Any, left: float | None) -> TaskRunInput:
    """The nested task as iteration `index` runs it: its own key, rendered with `{{input}}` = `value`, its
    timeout within the `left` seconds to an enclosing Until's deadline."""
    payload = chunk.task_run.task.payload
    assert isinstance(payload, ForEachPayload)
    key = iteration_key(chunk.task_run.task.key, index)
    nested = payload.task.model_copy(
        update={"key": key, "parameters": {**payload.task.parameters, ITERATION_INPUT: value}}
    )
    context = chunk.context.model_copy(
        update={"for_each_input": value, "has_for_each_input": True, "task_key": key}
    )
    task = capped(render_task(nested, context), left)
    return chunk.task_run.model_copy(update={"task": task, "rerun_inputs": None})


def _iteration_instance(chunk: ChunkInput, index: int) -> str:
    run = chunk.task_run
    return task_instance_id(run.control_id, iteration_key(run.task.key, index), run.repair_number)


def _iteration_block(chunk: ChunkInput, index: int, value: Any) -> BlockInput:
    """The body as iteration `index` walks it: `@item()` = `value`."""
    assert chunk.block is not None
    scope = chunk.context.model_copy(update={"for_each_input": value, "has_for_each_input": True})
    key = iteration_key(chunk.task_run.task.key, index)
    return BlockInput(request=chunk.block, scope=scope, row_key=key, deadline=chunk.deadline)
