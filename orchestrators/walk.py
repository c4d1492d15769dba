"""The DAG walk of a run or an ADF block: start what is ready, wait for a task, the cancel event, the job
timeout or the duration warning, until nothing runs. Deterministic; `run_job` and `run_block` call it.

A one-command Batch task starts as a quick start (`quick_batch`): an activity that ends soon by itself,
so a wave of those needs no zero-delay timer, and a cancel or the timeout waits for it. Anything else
that starts (a sub-orchestration, a timer) makes the next wait include a timer that fires now: the
extension walks the action list in order and waits on each compound, so without it what the walk does
next would wait until one of the wave's children ended.

A stop passes the cancel event on to the running for_each and Until tasks, which pass it on to theirs
(`pass_cancel_on`): a block's walk gets it like a run's, so a Wait anywhere in the tree ends at the cancel.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from jobclusters.execution import registry
from jobclusters.execution.deadlines import NOT_STARTED, capped
from jobclusters.execution.ids import task_instance_id
from jobclusters.execution.messages import (
    CancelRunInput,
    TaskOutcome,
    TaskRecordBatch,
)
from jobclusters.execution.routing import executor_for
from jobclusters.run_request import CANCEL_EVENT, cancel_message
from jobclusters.spec.adf_control import wait_seconds
from jobclusters.spec.dag import next_step, run_result
from jobclusters.spec.model import (
    ForEachPayload,
    Job,
    Task,
    TaskState,
    UntilPayload,
    WaitPayload,
)
from jobclusters.spec.templating import TemplateError
from orchestrators.common import (
    call,
    call_orchestrator,
    call_store,
    failure_message,
    pass_cancel_on,
)
from orchestrators.quick_batch import after_quick, start_quick, starts_quick
from orchestrators.run_state import EVENTS_PER_TASK, EVENTS_PER_WAIT, Run, duration_threshold


@dataclass(frozen=True)
class Stop:
    """Why the walk stopped starting tasks: the job timed out, or the run was canceled."""

    state: TaskState
    message: str


@dataclass(frozen=True)
class Continue:
    """The history budget is spent and nothing runs: the walk goes on in a new execution."""


def walk(run: Run) -> Generator[Any, Any, Stop | Continue | None]:
    """The DAG walk: start what is ready, wait for a task, the cancel event, the timeout or the duration
    warning, until nothing runs. After a stop, ready tasks settle as the stop instead of starting. With the
    history budget spent, nothing new starts and the walk hands over once nothing runs (`Continue`)."""
    context, job = run.context, run.job
    cancel_event = context.wait_for_external_event(CANCEL_EVENT)
    job_timer = (
        context.create_timer(run.start + timedelta(seconds=job.timeout_seconds))
        if job.timeout_seconds
        else None
    )
    threshold = duration_threshold(job)
    warn_timer = None
    if threshold and not run.warned:
        warn_timer = context.create_timer(run.start + timedelta(seconds=threshold))
    stop: Stop | None = None
    handover = False
    unscheduled = False  # sub-orchestrations or timers created since the last wait

    while True:
        decided_inline, started = (
            _start_ready(run, stop) if run.budget_left() or stop is not None else (False, False)
        )
        unscheduled = unscheduled or started
        run.publish()
        if run.rows:
            rows, run.rows = run.rows, []
            run.spent += EVENTS_PER_WAIT
            yield call_store(context, registry.RECORD_TASK_RUNS, TaskRecordBatch(rows=rows))
        if decided_inline:
            continue
        if not run.running:
            if stop is None and not run.budget_left() and _walk_goes_on(run):
                if not cancel_event.is_completed:
                    handover = True
                    break
                # a cancel that came with the last completion: it stops this run, not the next execution
                stop = _stop_for(job, timed_out=False, reason=cancel_event.result)
                yield from _mark_stopped(run, stop, by_event=True)
                continue
            break

        waiting = list(run.running.values())
        if stop is None or not cancel_event.is_completed:  # once it stopped the walk, it is no news
            waiting.append(cancel_event)
        waiting += [t for t in (job_timer, warn_timer) if t is not None and stop is None]
        if unscheduled:  # the timer that fires now (see the module docstring)
            waiting.append(context.create_timer(context.current_utc_datetime))
            unscheduled = False
        run.spent += EVENTS_PER_WAIT
        winner = yield context.task_any(waiting)
        if winner is cancel_event or (job_timer is not None and winner is job_timer and stop is None):
            stop = _stop_for(job, timed_out=winner is job_timer, reason=cancel_event.result)
            yield from _mark_stopped(run, stop, by_event=winner is cancel_event)
            passed = cancel_event.result if winner is cancel_event else stop.message
            yield from pass_cancel_on(context, _loops_running(run), passed)
            for key, child in list(run.running.items()):
                if key in run.quick:
                    continue  # it ends soon by itself; what it ended as settles it (`after_quick`)
                began = run.progress.tasks[key].start
                if key in run.waits:
                    child.cancel()
                run.settle(
                    key,
                    TaskOutcome(state=stop.state, message=stop.message, end=run.now(), start=began),
                    record=key in run.waits,
                )
            continue
        if warn_timer is not None and winner is warn_timer:
            warn_timer = None
            run.warned = True
            yield call(
                context,
                registry.NOTIFY_RUN,
                run.notify("duration_exceeded", message=f"running longer than {threshold} s"),
            )
            continue
        unscheduled = _settle_finished_children(run, stop) or unscheduled

    for timer in (job_timer, warn_timer):
        if timer is not None and not timer.is_completed:
            timer.cancel()
    return Continue() if handover else stop


def _mark_stopped(run: Run, stop: Stop, *, by_event: bool) -> Generator[Any, Any, None]:
    """The run's cancel marker, which stops its remote work and every attempt that reads it. A block
    stopped by the cancel event needs none: the run that passed the event on marked itself."""
    if run.block is None or not by_event:
        yield call_store(
            run.context,
            registry.REQUEST_RUN_CANCEL,
            CancelRunInput(run_id=run.req.run_id, reason=stop.message),
        )


def _loops_running(run: Run) -> list[str]:
    """The instances of the running for_each and Until tasks, which pass a cancel on to their children."""
    return [
        task_instance_id(run.req.run_id, key, run.repair_number)
        for key in run.running
        if isinstance(run.job.task(key).payload, UntilPayload | ForEachPayload)
    ]


def _walk_goes_on(run: Run) -> bool:
    """Some task is still to settle or start (the walk is not over)."""
    return run_result(run.job, run.states) is None


def _stop_for(job: Job, *, timed_out: bool, reason: Any) -> Stop:
    if timed_out:
        return Stop(
            TaskState.TIMEDOUT, f"the job timed out after {timedelta(seconds=job.timeout_seconds or 0)}"
        )
    return Stop(TaskState.CANCELED, cancel_message(reason))


def _start_ready(run: Run, stop: Stop | None) -> tuple[bool, bool]:
    """One step of the DAG: settle what is decided without running, start the ready tasks as `run_task`
    sub-orchestrations (a one-command Batch task as a quick start). Returns (something was decided inline,
    a sub-orchestration or timer was created)."""
    step = next_step(run.job, run.states, run.condition_outcomes())
    now = run.now()
    for key, state in step.settled.items():
        run.settle(key, TaskOutcome(state=state, attempts=0, start=now, end=now))
    decided_inline = bool(step.settled)
    started = False
    for key in step.ready:
        if key in run.running:
            continue
        task = run.job.task(key)
        if stop is not None:
            run.settle(key, TaskOutcome(state=TaskState.CANCELED, attempts=0, message=stop.message))
            decided_inline = True
            continue
        if isinstance(task.payload, UntilPayload):
            if not run.budget_left():
                break
            run.spent += EVENTS_PER_TASK
            child_id = task_instance_id(run.req.run_id, key, run.repair_number)
            until = run.until_input(task, task.payload)
            run.running[key] = call_orchestrator(run.context, registry.UNTIL, until, child_id)
            run.mark_running(key, now)
            started = True
            continue
        if isinstance(task.payload, ForEachPayload):
            if not run.budget_left():
                break
            if _start_for_each(run, task, task.payload, now):
                started = True
            else:
                decided_inline = True
            continue
        try:
            rendered = run.render(task)
        except (TemplateError, ValueError) as exc:
            run.settle(
                key, TaskOutcome(state=TaskState.FAILED, message=str(exc), start=now, end=now, attempts=0)
            )
            decided_inline = True
            continue
        left = run.time_left()
        if left is not None and left <= 0:
            run.settle(
                key,
                TaskOutcome(state=TaskState.TIMEDOUT, message=NOT_STARTED, start=now, end=now, attempts=0),
            )
            decided_inline = True
            continue
        rendered = capped(rendered, left)
        if isinstance(rendered.payload, WaitPayload):
            try:
                seconds = wait_seconds(rendered.payload.seconds)
            except ValueError as exc:
                run.settle(
                    key, TaskOutcome(state=TaskState.FAILED, message=f"{key}: {exc}", start=now, end=now)
                )
                decided_inline = True
                continue
            run.spent += EVENTS_PER_TASK
            at = run.context.current_utc_datetime + timedelta(seconds=min(seconds, left or seconds))
            run.running[key] = run.context.create_timer(at)
            run.waits.add(key)
            run.mark_running(key, now, record=True)
            started = True
            continue
        if executor_for(rendered) in ("inline", "unsupported"):
            run.settle(key, run.decide_inline(rendered))
            decided_inline = True
            continue
        if key in run.blocked:
            run.settle(key, TaskOutcome(state=TaskState.FAILED, message=run.blocked[key], start=now, end=now))
            decided_inline = True
            continue
        if not run.budget_left():
            break
        run.spent += EVENTS_PER_TASK
        child_id = task_instance_id(run.req.run_id, key, run.repair_number)
        task_input = run.task_input(rendered)
        if starts_quick(task_input):
            run.running[key], run.quick[key] = start_quick(run.context, task_input, child_id)
        else:
            run.running[key] = call_orchestrator(run.context, registry.RUN_TASK, task_input, child_id)
            started = True
        run.mark_running(key, now)
    return decided_inline, started


def _start_for_each(run: Run, task: Task, payload: ForEachPayload, now: str) -> bool:
    """Start the for_each task's `for_each` sub-orchestration; bad inputs fail it now, saying where."""
    try:
        value = run.for_each_input(task, payload)
    except (TemplateError, ValueError) as exc:
        run.settle(
            task.key, TaskOutcome(state=TaskState.FAILED, message=str(exc), start=now, end=now, attempts=0)
        )
        return False
    run.spent += EVENTS_PER_TASK
    child_id = task_instance_id(run.req.run_id, task.key, run.repair_number)
    run.running[task.key] = call_orchestrator(run.context, registry.FOR_EACH, value, child_id)
    run.mark_running(task.key, now)
    return True


def _settle_finished_children(run: Run, stop: Stop | None) -> bool:
    """Settle what ended; a quick start that did not settle its task hands it to `run_task`. Returns
    whether a sub-orchestration was created. After a stop, a task that then ended stopped shows the stop's
    state and message (the user's reason), as the tasks running at the stop do."""
    handed = False
    for key, child in list(run.running.items()):
        if not child.is_completed:
            continue
        quick = run.quick.pop(key, None)
        if key in run.waits:
            began = run.progress.tasks[key].start
            run.settle(key, TaskOutcome(state=TaskState.SUCCESS, start=began, end=run.now()))
            continue
        if quick is not None:
            taken = after_quick(quick, child.result, stopped=stop is not None)
            if not isinstance(taken, TaskOutcome):
                run.spent += EVENTS_PER_TASK
                run.running[key] = call_orchestrator(run.context, registry.RUN_TASK, taken, quick.child_id)
                handed = True
                continue
            outcome = taken
        elif isinstance(child.result, Exception):
            failed = failure_message(child.result)
            run.settle(key, TaskOutcome(state=TaskState.FAILED, message=failed, end=run.now()))
            continue
        else:
            outcome = registry.RUN_TASK.read(child.result)
            if isinstance(run.job.task(key).payload, UntilPayload | ForEachPayload):
                run.variables.update(outcome.details.get("variables") or {})
        if stop is not None and outcome.state in (TaskState.CANCELED, TaskState.TIMEDOUT):
            outcome.state, outcome.message = stop.state, stop.message
        run.settle(key, outcome, record=False)
    return handed
