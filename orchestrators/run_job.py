"""`run_job`: one run (or repair) of a job, started with a `RunRequest` and the run id as instance id.

Admission (`max_concurrent_runs`: a slot, else wait with timers when `queue`, else skip), then the DAG
walk (`walk.py`, with `jobclusters.spec.dag.next_step`): ready tasks start in parallel as `run_task`
sub-orchestrations (instance id from run id + task key + repair number; a one-command Batch task as a
quick start first, `quick_batch.py`); condition and fail tasks are decided inline; tasks that settle
without running are recorded. The walk waits on the running tasks, the cancel event, the job timeout and
the duration-warning timer at once. The custom status is a `RunProgress` with every task's live state
(`run_state.Run`); the output is the run summary the CLI prints.

`run_block` walks ADF inner activities (a ForEach iteration, an Until pass) with the same walk, in block
mode: no admission, slot, notification or run record; its tasks' rows go under the parent's tracked run,
keyed `<iteration>/<activity>`; its templates see `@item()`, the outer activities' outputs and the
variables; it returns the inner states, outputs and the variables after the pass. A body is small (ADF
caps a pipeline's activities), so a block walk does not continue as new.

The body reads as its steps, each a generator joined with `yield from`: admission (which may end the run
early: canceled while queued, or skipped), start, the walk, finish.

The walk keeps each execution's history bounded whatever the job's size: it charges every task it starts
and every wait and write with the history events they cost (an estimate a little above what devhost
records), holding back what the running tasks will still cost; once `HISTORY_BUDGET` is spent it starts no
new task, lets the running ones finish (a cancel or the timeout still stops them), then continues as new
with a `WalkCheckpoint` (states, outcomes, progress, the original start). The next execution re-creates the
job timeout and warning timers from the original start and goes on walking; a cancel raised in between
waits in the instance's inbox for it.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import azure.durable_functions as df

from jobclusters.execution import registry
from jobclusters.execution.control_messages import BlockResult
from jobclusters.execution.messages import (
    RunAdmissionInput,
    SettingsCheckInput,
    SlotResult,
    TaskRecordBatch,
    TaskRecordInput,
)
from jobclusters.execution.polling import QUEUE_POLL
from jobclusters.run_request import CANCEL_EVENT, cancel_message
from jobclusters.spec.dag import run_result
from jobclusters.spec.for_each import ITERATION_INPUT
from jobclusters.spec.model import (
    JoinPayload,
    RunResult,
    Task,
    TaskState,
)
from orchestrators.common import (
    call,
    call_store,
    decode_input,
    dump,
    result_of,
)
from orchestrators.run_state import Run, RunJobInput, decode_run_input, failure_summary
from orchestrators.walk import Continue, Stop, walk

bp = df.Blueprint()


@dataclass(frozen=True)
class _EndEarly:
    """The run ends before any task starts: canceled while queued, or skipped."""

    result: RunResult
    message: str


_Admission = Literal["admitted", "requeued"] | _EndEarly


@bp.orchestration_trigger(context_name="context")
def run_job(context: df.DurableOrchestrationContext) -> Generator[Any, Any, dict[str, Any] | None]:
    envelope = decode_run_input(context)
    run = Run(context, envelope)
    run.publish()
    if envelope.walk is not None:
        return (yield from _walk_on(run, envelope))
    if envelope.queued_polls == 0:
        refused = yield from result_of(
            context,
            registry.CHECK_RUN_REQUEST,
            RunAdmissionInput(request=dump(run.req), signature=envelope.signature),
        )
        if refused:
            return (yield from _end_early(run, _EndEarly(RunResult.FAILED, "refused: " + "; ".join(refused))))
    window = yield from _wait_for_cost_window(run)
    if window is not None:
        return (yield from _end_early(run, window))
    admission = yield from _admit(run, envelope)
    if admission == "requeued":
        return None
    if isinstance(admission, _EndEarly):
        return (yield from _end_early(run, admission))
    yield from _start(run)
    return (yield from _walk_on(run, envelope))


def _walk_on(run: Run, envelope: RunJobInput) -> Generator[Any, Any, dict[str, Any] | None]:
    """The walk, then the finish; or, with the history budget spent, the walk's state to a new execution."""
    stop = yield from walk(run)
    if isinstance(stop, Continue):
        run.context.continue_as_new(dump(envelope.model_copy(update={"walk": run.checkpoint()})))
        return None
    return (yield from _finish(run, stop))


def _wait_for_cost_window(run: Run) -> Generator[Any, Any, _EndEarly | None]:
    """A job that waits for the cost policy's preferred window stays queued until it opens (a cancel
    ends it there); the run's start is when it stops waiting."""
    context, not_before = run.context, run.req.not_before
    if not not_before or datetime.fromisoformat(not_before) <= context.current_utc_datetime:
        return None
    for progress in run.progress.tasks.values():
        progress.state = TaskState.QUEUED
    run.progress.starts_at = not_before
    run.publish(everything=True)
    yield call_store(context, registry.RECORD_RUN, run.run_record("QUEUED"))
    opens = context.create_timer(datetime.fromisoformat(not_before))
    cancel = context.wait_for_external_event(CANCEL_EVENT)
    if (yield context.task_any([opens, cancel])) is cancel:
        opens.cancel()
        return _EndEarly(
            RunResult.CANCELED, cancel_message(cancel.result, when="while waiting for its cost window")
        )
    run.progress.starts_at = None
    run.start = context.current_utc_datetime
    run.publish(everything=True)
    return None


def _admit(run: Run, envelope: RunJobInput) -> Generator[Any, Any, _Admission]:
    """A slot, else (with `queue`) wait for one across continue_as_new, else skip. An admitted run learns
    which tasks its settings cannot start (they fail when ready, without an attempt to retry)."""
    context, job = run.context, run.job
    slot = SlotResult(claimed=True)  # a job with no limit claims no slot
    if run.slot_input is not None:
        slot = yield from result_of(context, registry.CLAIM_RUN_SLOT, run.slot_input, store=True)
    if slot.claimed:
        check = yield from result_of(context, registry.CHECK_JOB_SETTINGS, SettingsCheckInput(job=job))
        run.blocked = check.blocked
        return "admitted"
    if not job.queue:
        return _EndEarly(
            RunResult.SKIPPED,
            f"skipped: {job.max_concurrent_runs} run(s) of this job are active ({', '.join(slot.holders)})",
        )
    for progress in run.progress.tasks.values():
        progress.state = TaskState.QUEUED
    run.publish(everything=True)
    if envelope.queued_polls == 0:
        yield call_store(context, registry.RECORD_RUN, run.run_record("QUEUED"))
    interval = QUEUE_POLL.next_interval(envelope.queue_interval)
    wait = context.create_timer(context.current_utc_datetime + timedelta(seconds=interval))
    cancel = context.wait_for_external_event(CANCEL_EVENT)
    if (yield context.task_any([wait, cancel])) is cancel:
        wait.cancel()
        return _EndEarly(RunResult.CANCELED, cancel_message(cancel.result, when="while queued"))
    context.continue_as_new(
        dump(
            envelope.model_copy(
                update={
                    "queued_polls": envelope.queued_polls + 1,
                    "queued_at": run.created,
                    "queue_interval": interval,
                }
            )
        )
    )
    return "requeued"


def _end_early(run: Run, end: _EndEarly) -> Generator[Any, Any, dict[str, Any]]:
    """Every task takes the run's result (CANCELED or SKIPPED); no slot is held, none is released."""
    for progress in run.progress.tasks.values():
        progress.state = TaskState(end.result.value)
    run.progress.result = end.result
    run.publish(everything=True)
    yield call_store(
        run.context, registry.RECORD_RUN, run.run_record(end.result.value, end=run.now(), message=end.message)
    )
    return run.output(end.result.value, end.message)


def _start(run: Run) -> Generator[Any, Any, None]:
    yield run.context.task_all(
        [
            call_store(run.context, registry.RECORD_RUN, run.run_record("RUNNING")),
            call(run.context, registry.NOTIFY_RUN, run.notify("start")),
        ]
    )


def _finish(run: Run, stop: Stop | None) -> Generator[Any, Any, dict[str, Any]]:
    """The run's result (a stop overrides the DAG's), its record, the notification, the slot back."""
    context = run.context
    result = run_result(run.job, run.states) or RunResult.FAILED
    if stop is not None:
        result = RunResult.TIMEDOUT if stop.state == TaskState.TIMEDOUT else RunResult.CANCELED
    final_message = stop.message if stop is not None else failure_summary(run.outcomes, run.states)
    run.progress.result = result
    run.publish()
    end = run.now()
    ok = result in (RunResult.SUCCESS, RunResult.SUCCESS_WITH_FAILURES)
    yield context.task_all(
        [
            call_store(
                context, registry.RECORD_RUN, run.run_record(result.value, end=end, message=final_message)
            ),
            call(
                context,
                registry.NOTIFY_RUN,
                run.notify("success" if ok else "failure", result.value, final_message),
            ),
            *([call_store(context, registry.RELEASE_RUN_SLOT, run.slot_input)] if run.slot_input else []),
        ]
    )
    return run.output(result.value, final_message)


def _in_block(task: Task, prefix: str) -> Task:
    """The task as one iteration's: every key it names is prefixed alike (its own, its dependencies', an
    If/Switch join's selector and members)."""
    update: dict[str, Any] = {
        "key": prefix + task.key,
        "depends_on": [d.model_copy(update={"task_key": prefix + d.task_key}) for d in task.depends_on],
    }
    if isinstance(task.payload, JoinPayload):
        join = task.payload
        update["payload"] = join.model_copy(
            update={"selector": prefix + join.selector, "members": [prefix + m for m in join.members]}
        )
    return task.model_copy(update=update)


@bp.orchestration_trigger(context_name="context")
def run_block(context: df.DurableOrchestrationContext) -> Generator[Any, Any, dict[str, Any]]:
    block = decode_input(context, registry.RUN_BLOCK.input)
    tasks = [_in_block(task, f"{block.row_key}/") for task in block.request.job.tasks]
    request = block.request.model_copy(update={"job": block.request.job.model_copy(update={"tasks": tasks})})
    run = Run(context, RunJobInput(request=request), block)
    start = run.now()
    item = {ITERATION_INPUT: block.scope.for_each_input} if block.scope.has_for_each_input else {}
    yield call_store(
        context, registry.RECORD_TASK_RUNS, _block_row(run, TaskState.RUNNING, start, parameters=item)
    )
    run.publish()
    stop = yield from walk(run)
    result = run_result(run.job, run.states)
    state = {
        RunResult.SUCCESS: TaskState.SUCCESS,
        RunResult.CANCELED: TaskState.CANCELED,
        RunResult.TIMEDOUT: TaskState.TIMEDOUT,
    }.get(result or RunResult.FAILED, TaskState.FAILED)
    message = None
    if isinstance(stop, Stop):  # as for a run, a stop overrides what the DAG came to
        state, message = stop.state, stop.message
    elif state != TaskState.SUCCESS:
        message = failure_summary(run.inner(run.outcomes), run.inner(run.states))
    yield call_store(
        context,
        registry.RECORD_TASK_RUNS,
        _block_row(run, state, start, end=run.now(), message=message, parameters=item),
    )
    return dump(
        BlockResult(
            state=state,
            message=message,
            tasks=run.inner(run.states),
            outputs=run.inner({k: dict(o.task_values) for k, o in run.outcomes.items()}),
            variables=run.variables,
        )
    )


def _block_row(run: Run, state: TaskState, start: str, **fields: Any) -> TaskRecordBatch:
    """The row of the iteration or pass itself (`loop[3]`), beside its inner activities' rows."""
    assert run.block is not None
    return TaskRecordBatch(
        rows=[
            TaskRecordInput(
                run_id=run.tracked_id,
                task_key=run.block.row_key,
                state=state,
                generation=run.repair_number,
                attempt=1,
                start=start,
                **fields,
            )
        ]
    )
