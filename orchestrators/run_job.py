"""`run_job`: one run (or repair) of a job, started with a `RunRequest` and the run id as instance id.

Admission (`max_concurrent_runs`: a slot, else wait with timers when `queue`, else skip), then the DAG
walk with `jobclusters.spec.dag.next_step`: ready tasks start in parallel as `run_task`
sub-orchestrations (instance id from run id + task key + repair number); condition and fail tasks are
decided inline; tasks that settle without running are recorded. The orchestrator waits on the running
tasks, the cancel event, the job timeout and the duration-warning timer at once. The custom status is a
`RunProgress` with every task's live state; the output is the run summary the CLI prints.

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

import json
from collections.abc import Generator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import azure.durable_functions as df
from pydantic import BaseModel, ConfigDict

from jobclusters.execution import registry
from jobclusters.execution.control_messages import BlockInput, BlockResult, ForEachInput, UntilInput
from jobclusters.execution.ids import task_instance_id
from jobclusters.execution.messages import (
    CancelRunInput,
    NotifyEvent,
    NotifyInput,
    RunAdmissionInput,
    RunRecordInput,
    SettingsCheckInput,
    SlotInput,
    TaskOutcome,
    TaskRecordBatch,
    TaskRecordInput,
    TaskRunInput,
)
from jobclusters.execution.polling import QUEUE_POLL
from jobclusters.execution.rendering import render_task, run_parameters, template_context, trigger_files
from jobclusters.execution.routing import executor_for, unsupported_reason
from jobclusters.run_request import CANCEL_EVENT, RunProgress, RunRequest, TaskProgress, cancel_message
from jobclusters.spec.adf_branches import choose_branch, join_state
from jobclusters.spec.adf_control import RETURN_VALUE, filter_items, set_variable, wait_seconds
from jobclusters.spec.dag import evaluate_condition, next_step, run_result
from jobclusters.spec.for_each import ITERATION_INPUT, check_concurrency, parse_inputs
from jobclusters.spec.model import (
    BlockPayload,
    BranchPayload,
    ConditionPayload,
    FailPayload,
    FilterPayload,
    ForEachPayload,
    Job,
    JoinPayload,
    RunResult,
    SetVariablePayload,
    Task,
    TaskState,
    UntilPayload,
    WaitPayload,
)
from jobclusters.spec.templating import TemplateContext, TemplateError, render
from orchestrators.common import (
    FAILURE_MESSAGE_LIMIT,
    call,
    call_orchestrator,
    call_store,
    decode_input,
    dump,
    failure_message,
    iso,
    result_of,
)
from orchestrators.quick_batch import QuickStart, after_quick, start_quick, starts_quick

bp = df.Blueprint()

#: compute descriptions kept on the run record (one per task that ran, the first ones)
MAX_RECORDED_COMPUTE = 20


#: estimated history events one execution of the walk may spend before it continues as new (the extension
#: and devhost both slow down past ~1,000; admission, start and finish add a few dozen)
HISTORY_BUDGET = 800
#: what starting a task costs: its sub-orchestration (created, completed)
_EVENTS_PER_TASK = 4
#: held back while a task runs: the wait that sees it end and the write of its row (charged when they
#: happen), so the tasks running when the budget runs out can still finish within it
_EVENTS_PER_COMPLETION = 8
#: what one wait of the walk, or one batched write of rows, costs: the episode, and the zero-delay timer
#: after a wave of starts (or the activity's scheduled and completed events)
_EVENTS_PER_WAIT = 4


class WalkCheckpoint(BaseModel):
    """The walk's state handed to the next execution when the history budget is spent."""

    model_config = ConfigDict(extra="forbid")

    start: str
    created: str
    states: dict[str, TaskState]
    outcomes: dict[str, TaskOutcome]
    progress: RunProgress
    blocked: dict[str, str] = {}
    warned: bool = False
    executions: int = 1
    variables: dict[str, Any] = {}


class RunJobInput(BaseModel):
    """A `RunRequest`, or this envelope while the run waits in the queue or continues its walk in a new
    execution (continue_as_new)."""

    model_config = ConfigDict(extra="forbid")

    request: RunRequest
    signature: str | None = None  # issue 13 defect 7: see jobclusters.run_admission
    queued_polls: int = 0
    queued_at: str | None = None
    queue_interval: float | None = None
    walk: WalkCheckpoint | None = None


def _decode(context: Any) -> RunJobInput:
    raw = context.get_input()
    if isinstance(raw, str):
        raw = json.loads(raw)
    if isinstance(raw, dict) and "request" in raw:
        return RunJobInput.model_validate(raw)
    return RunJobInput(request=RunRequest.model_validate(raw))


def duration_threshold(job: Job) -> int | None:
    values = [r.value for r in job.health if r.metric == "RUN_DURATION_SECONDS"]
    return min(values) if values else None


def _decided_by_a_condition(task: Task, state: TaskState) -> bool:
    return isinstance(task.payload, ConditionPayload | BranchPayload) and state == TaskState.SUCCESS


def _failure_summary(outcomes: dict[str, TaskOutcome], states: dict[str, TaskState]) -> str | None:
    for key, state in states.items():
        if state in (TaskState.FAILED, TaskState.TIMEDOUT):
            message = outcomes[key].message if key in outcomes else None
            return f"{key}: {message or state.value}"[:FAILURE_MESSAGE_LIMIT]
    return None


class _Run:
    """The state of one run while the generator walks it; every method is pure."""

    def __init__(self, context: Any, envelope: RunJobInput, block: BlockInput | None = None) -> None:
        self.context = context
        self.block = block
        self.req = envelope.request
        self.job = self.req.job
        self.repair_number = self.req.repair.number if self.req.repair else 0
        self.tracked_id = self.req.repair.of_run_id if self.req.repair else self.req.run_id
        self.states: dict[str, TaskState] = {}
        self.outcomes: dict[str, TaskOutcome] = {}
        self.running: dict[str, Any] = {}
        self.rows: list[TaskRecordInput] = []
        self.blocked: dict[str, str] = {}
        self.progress = RunProgress(
            run_id=self.req.run_id,
            job_id=self.req.job_id,
            tasks={t.key: TaskProgress() for t in self.job.tasks},
        )
        self.start = context.current_utc_datetime
        self.created = envelope.queued_at or self.now()
        self._status: dict[str, Any] | None = None
        self._changed: set[str] = set()
        self.spent = 0
        self.variables: dict[str, Any] = dict(block.scope.variables if block else self.job.variables)
        self.waits: set[str] = set()
        self.quick: dict[str, QuickStart] = {}
        self.warned = False
        self.executions = 1
        self.slot_input = SlotInput(
            job_id=self.req.job_id, run_id=self.req.run_id, max_concurrent_runs=self.job.max_concurrent_runs
        )
        if self.req.repair is not None:
            rerun = set(self.req.repair.rerun_tasks)
            for key, state in self.req.repair.previous_states.items():
                if key in self.progress.tasks and key not in rerun:
                    outcome = self.req.repair.previous_outcomes.get(key)
                    if outcome is None and _decided_by_a_condition(self.job.task(key), state):
                        continue  # no outcome was kept: decide the condition again (same parameters)
                    self.settle(key, TaskOutcome(state=state, outcome=outcome, attempts=0), record=False)
        if envelope.walk is not None:
            self.resume(envelope.walk)

    def resume(self, walk: WalkCheckpoint) -> None:
        self.start = datetime.fromisoformat(walk.start)
        self.created = walk.created
        self.states = dict(walk.states)
        self.outcomes = dict(walk.outcomes)
        self.progress = walk.progress
        self.blocked = walk.blocked
        self.warned = walk.warned
        self.executions = walk.executions + 1
        self.variables = dict(walk.variables)

    def checkpoint(self) -> WalkCheckpoint:
        return WalkCheckpoint(
            start=iso(self.start),
            created=self.created,
            states=self.states,
            outcomes=self.outcomes,
            progress=self.progress,
            blocked=self.blocked,
            warned=self.warned,
            executions=self.executions,
            variables=self.variables,
        )

    def budget_left(self) -> bool:
        """Room for one more task, beside what the running ones will still cost (a block's body is small
        and never continues as new)."""
        if self.block is not None:
            return True
        held = _EVENTS_PER_COMPLETION * (len(self.running) + 1)
        return self.spent + held + _EVENTS_PER_TASK <= HISTORY_BUDGET

    def now(self) -> str:
        return iso(self.context.current_utc_datetime)

    def publish(self, everything: bool = False) -> None:
        """The custom status; only the tasks that changed are dumped again (a big job publishes often)."""
        if self._status is None or everything:
            self._status = self.progress.model_dump(mode="json")
        else:
            for key in self._changed:
                self._status["tasks"][key] = self.progress.tasks[key].model_dump(mode="json")
            self._status["result"] = None if self.progress.result is None else self.progress.result.value
        self._changed.clear()
        self.context.set_custom_status({**self._status, "tasks": dict(self._status["tasks"])})

    def mark_running(self, key: str, now: str) -> None:
        self.states[key] = TaskState.RUNNING
        progress = self.progress.tasks[key]
        progress.state, progress.start = TaskState.RUNNING, now
        self._changed.add(key)

    def settle(self, key: str, outcome: TaskOutcome, record: bool = True) -> None:
        self.states[key] = outcome.state
        self.outcomes[key] = outcome
        self.running.pop(key, None)
        progress = self.progress.tasks[key]
        self._changed.add(key)
        progress.state = outcome.state
        progress.attempts = outcome.attempts
        progress.start = outcome.start or progress.start
        progress.end = outcome.end or progress.end
        progress.queue_seconds = outcome.queue_seconds
        progress.message = outcome.message
        progress.compute = outcome.compute or progress.compute
        progress.outcome = outcome.outcome
        progress.failed_inputs = outcome.failed_inputs
        progress.exit_code = outcome.exit_code
        if record:
            task = self.job.task(key)
            self.rows.append(
                TaskRecordInput(
                    run_id=self.tracked_id,
                    task_key=key,
                    state=outcome.state,
                    generation=self.repair_number,
                    start=outcome.start,
                    end=outcome.end,
                    message=outcome.message,
                    secure_input=task.secure_input,
                    secure_output=task.secure_output,
                )
            )

    def condition_outcomes(self) -> dict[str, str]:
        return {k: o.outcome for k, o in self.outcomes.items() if o.outcome is not None}

    def template_context(self, task: Task) -> TemplateContext:
        context = template_context(
            self.req,
            start=self.start,
            now=self.context.current_utc_datetime,
            task_key=task.key,
            task_run_id=task_instance_id(self.req.run_id, task.key, self.repair_number),
            outcomes=self.outcomes,
        )
        if self.block is None:
            return context.model_copy(update={"variables": dict(self.variables)})
        scope = self.block.scope
        return context.model_copy(
            update={
                "variables": dict(self.variables),
                "activity_outputs": {**scope.activity_outputs, **self.inner(context.activity_outputs)},
                "task_values": {**scope.task_values, **self.inner(context.task_values)},
                "task_states": {**scope.task_states, **self.inner(context.task_states)},
                "for_each_input": scope.for_each_input,
                "has_for_each_input": scope.has_for_each_input,
            }
        )

    def inner(self, by_key: dict[str, Any]) -> dict[str, Any]:
        """A block's values by the inner activity names its expressions use (`<row_key>/` dropped)."""
        prefix = f"{self.block.row_key}/" if self.block else ""
        return {k.removeprefix(prefix): v for k, v in by_key.items()}

    def body_request(self, tasks: list[Task]) -> RunRequest:
        """The request a `run_block` of these inner activities walks: this run, its job's tasks the body's;
        a repair's previous states are the parent's business."""
        job = self.job.model_copy(update={"tasks": tasks, "timeout_seconds": None, "health": []})
        repair = self.req.repair
        if repair is not None:
            repair = repair.model_copy(update={"previous_states": {}, "previous_outcomes": {}})
        return self.req.model_copy(update={"job": job, "repair": repair})

    def until_input(self, task: Task, payload: UntilPayload) -> UntilInput:
        return UntilInput(
            task_run=self.task_input(task),
            body=self.body_request(payload.tasks),
            scope=self.template_context(task),
            variables=dict(self.variables),
        )

    def render(self, task: Task) -> Task:
        """The task rendered now; a Filter's condition waits for each item (`@item()`)."""
        if isinstance(task.payload, FilterPayload):
            condition = task.payload.condition
            blank = task.model_copy(update={"payload": task.payload.model_copy(update={"condition": ""})})
            rendered = render_task(blank, self.template_context(task))
            assert isinstance(rendered.payload, FilterPayload)
            return rendered.model_copy(
                update={"payload": rendered.payload.model_copy(update={"condition": condition})}
            )
        return render_task(task, self.template_context(task))

    def for_each_input(self, task: Task, payload: ForEachPayload) -> ForEachInput:
        """The for_each's inputs resolved now (they may name job parameters or upstream task values); the
        nested task renders per iteration. Raises `ForEachError` / `TemplateError` naming the JSON path."""
        context = self.template_context(task)
        path = f"{task.source_path or '$'}.payload"
        items = f"{path}.inputs"
        if self.job.source_format == "adf":
            path = f"{task.source_path or '$'}.typeProperties"
            items = f"{path}.items"
        value = render(payload.inputs, context, items) if isinstance(payload.inputs, str) else payload.inputs
        selection = self.req.repair.rerun_inputs.get(task.key) if self.req.repair else None
        return ForEachInput(
            task_run=self.task_input(task),
            context=context,
            inputs=parse_inputs(value, items),
            indexes=selection.indexes if selection is not None and selection.ref is None else None,
            concurrency=check_concurrency(payload.concurrency, f"{path}.concurrency"),
            block=(
                self.body_request(payload.task.payload.tasks)
                if isinstance(payload.task.payload, BlockPayload)
                else None
            ),
        )

    def decide_inline(self, task: Task) -> TaskOutcome:
        now = self.now()
        payload = task.payload
        if isinstance(payload, ConditionPayload):
            try:
                value = evaluate_condition(payload.op, str(payload.left), str(payload.right))
            except ValueError as exc:
                return TaskOutcome(state=TaskState.FAILED, message=str(exc), start=now, end=now)
            return TaskOutcome(
                state=TaskState.SUCCESS, outcome="true" if value else "false", start=now, end=now
            )
        if isinstance(payload, BranchPayload):
            try:
                branch = choose_branch(payload, payload.on)
            except ValueError as exc:
                return TaskOutcome(state=TaskState.FAILED, message=f"{task.key}: {exc}", start=now, end=now)
            return TaskOutcome(state=TaskState.SUCCESS, outcome=branch, start=now, end=now)
        if isinstance(payload, JoinPayload):
            messages = {k: o.message for k, o in self.outcomes.items()}
            state, message = join_state(payload, self.states, messages)
            selector = self.outcomes.get(payload.selector)
            taken = selector.outcome if selector is not None else None
            return TaskOutcome(state=state, message=message, outcome=taken, start=now, end=now)
        if isinstance(payload, FailPayload):
            return TaskOutcome(
                state=TaskState.FAILED, message=f"{payload.error_code}: {payload.message}", start=now, end=now
            )
        if isinstance(payload, SetVariablePayload | FilterPayload):
            try:
                if isinstance(payload, SetVariablePayload):
                    values = set_variable(self.variables, payload, self.job.variables)
                else:
                    values = filter_items(
                        payload, self.template_context(task), f"{task.source_path or '$'}.payload"
                    )
            except (TemplateError, ValueError) as exc:
                return TaskOutcome(state=TaskState.FAILED, message=str(exc), start=now, end=now)
            return TaskOutcome(state=TaskState.SUCCESS, task_values=values, start=now, end=now)
        return TaskOutcome(
            state=TaskState.FAILED, message=unsupported_reason(task), start=now, end=now, attempts=0
        )

    def task_input(self, task: Task) -> TaskRunInput:
        cluster = None
        compute = task.payload.task.compute if isinstance(task.payload, ForEachPayload) else task.compute
        if compute is not None and compute.job_cluster_key:
            cluster = self.job.job_cluster(compute.job_cluster_key)
        return TaskRunInput(
            run_id=self.tracked_id,
            control_id=self.req.run_id,
            job_id=self.req.job_id,
            job_name=self.job.name,
            task=task,
            job_cluster=cluster,
            job_home=self.job.home,
            environment=self.job.environment,
            base_dir=self.req.base_dir,
            trigger_files=trigger_files(self.req),
            tags=self.job.tags,
            repair_number=self.repair_number,
            rerun_inputs=self.req.repair.rerun_inputs.get(task.key) if self.req.repair else None,
        )

    def run_record(self, state: str, *, end: str | None = None, message: str | None = None) -> RunRecordInput:
        return RunRecordInput(
            run_id=self.tracked_id,
            job_id=self.req.job_id,
            state=state,
            generation=self.repair_number,
            created_at=self.created,
            trigger=self.req.trigger.model_dump(mode="json"),
            parameters=run_parameters(self.req),
            start=iso(self.start),
            end=end,
            message=message,
            compute=[o.compute_info for o in self.outcomes.values() if o.compute_info][:MAX_RECORDED_COMPUTE],
            tags=self.job.tags,
        )

    def notify(
        self, event: NotifyEvent, result: str | None = None, message: str | None = None
    ) -> NotifyInput:
        return NotifyInput(
            run_id=self.req.run_id,
            job_id=self.req.job_id,
            job_name=self.job.name,
            event=event,
            notifications=self.job.notifications,
            result=result,
            message=message,
            at=self.now(),
            tasks={k: p.state.value for k, p in self.progress.tasks.items()},
        )

    def output(self, result: str, message: str | None) -> dict[str, Any]:
        tasks = {}
        for key, p in self.progress.tasks.items():
            o = self.outcomes.get(key)
            tasks[key] = {
                **p.model_dump(mode="json"),
                "log_ref": o.log_ref if o else None,
                "details": o.details if o else {},
            }
        return {
            "run_id": self.req.run_id,
            "tracked_run_id": self.tracked_id,
            "job_id": self.req.job_id,
            "result": result,
            "message": message,
            "start": iso(self.start),
            "end": self.now(),
            "repair_number": self.repair_number,
            "tasks": tasks,
            **({"return_value": self.variables[RETURN_VALUE]} if RETURN_VALUE in self.variables else {}),
        }


@dataclass(frozen=True)
class _EndEarly:
    """The run ends before any task starts: canceled while queued, or skipped."""

    result: RunResult
    message: str


@dataclass(frozen=True)
class _Stop:
    """Why the walk stopped starting tasks: the job timed out, or the run was canceled."""

    state: TaskState
    message: str


@dataclass(frozen=True)
class _Continue:
    """The history budget is spent and nothing runs: the walk goes on in a new execution."""


_Admission = Literal["admitted", "requeued"] | _EndEarly


@bp.orchestration_trigger(context_name="context")
def run_job(context: df.DurableOrchestrationContext) -> Generator[Any, Any, dict[str, Any] | None]:
    envelope = _decode(context)
    run = _Run(context, envelope)
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


def _walk_on(run: _Run, envelope: RunJobInput) -> Generator[Any, Any, dict[str, Any] | None]:
    """The walk, then the finish; or, with the history budget spent, the walk's state to a new execution."""
    stop = yield from _walk(run)
    if isinstance(stop, _Continue):
        run.context.continue_as_new(dump(envelope.model_copy(update={"walk": run.checkpoint()})))
        return None
    return (yield from _finish(run, stop))


def _wait_for_cost_window(run: _Run) -> Generator[Any, Any, _EndEarly | None]:
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


def _admit(run: _Run, envelope: RunJobInput) -> Generator[Any, Any, _Admission]:
    """A slot, else (with `queue`) wait for one across continue_as_new, else skip. An admitted run learns
    which tasks its settings cannot start (they fail when ready, without an attempt to retry)."""
    context, job = run.context, run.job
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


def _end_early(run: _Run, end: _EndEarly) -> Generator[Any, Any, dict[str, Any]]:
    """Every task takes the run's result (CANCELED or SKIPPED); no slot is held, none is released."""
    for progress in run.progress.tasks.values():
        progress.state = TaskState(end.result.value)
    run.progress.result = end.result
    run.publish(everything=True)
    yield call_store(
        run.context, registry.RECORD_RUN, run.run_record(end.result.value, end=run.now(), message=end.message)
    )
    return run.output(end.result.value, end.message)


def _start(run: _Run) -> Generator[Any, Any, None]:
    yield run.context.task_all(
        [
            call_store(run.context, registry.RECORD_RUN, run.run_record("RUNNING")),
            call(run.context, registry.NOTIFY_RUN, run.notify("start")),
        ]
    )


def _walk(run: _Run) -> Generator[Any, Any, _Stop | _Continue | None]:
    """The DAG walk: start what is ready, wait for a task, the cancel event, the timeout or the duration
    warning, until nothing runs. After a stop, ready tasks settle as the stop instead of starting. With the
    history budget spent, nothing new starts and the walk hands over once nothing runs (`_Continue`)."""
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
    stop: _Stop | None = None
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
            run.spent += _EVENTS_PER_WAIT
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
                yield call_store(
                    context,
                    registry.REQUEST_RUN_CANCEL,
                    CancelRunInput(run_id=run.req.run_id, reason=stop.message),
                )
                continue
            break

        waiting = list(run.running.values())
        if stop is None or not cancel_event.is_completed:  # once it stopped the walk, it is no news
            waiting.append(cancel_event)
        waiting += [t for t in (job_timer, warn_timer) if t is not None and stop is None]
        if unscheduled:
            # The extension walks the action list in order and waits on each compound: without a timer
            # that fires now, what the walk does next would wait until one of this wave's children ended.
            # An activity (a quick start) ends soon by itself, so a wave of those needs no timer.
            waiting.append(context.create_timer(context.current_utc_datetime))
            unscheduled = False
        run.spent += _EVENTS_PER_WAIT
        winner = yield context.task_any(waiting)
        if winner is cancel_event or (job_timer is not None and winner is job_timer and stop is None):
            stop = _stop_for(job, timed_out=winner is job_timer, reason=cancel_event.result)
            yield call_store(
                context,
                registry.REQUEST_RUN_CANCEL,
                CancelRunInput(run_id=run.req.run_id, reason=stop.message),
            )
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
    return _Continue() if handover else stop


def _walk_goes_on(run: _Run) -> bool:
    """Some task is still to settle or start (the walk is not over)."""
    return run_result(run.job, run.states) is None


def _stop_for(job: Job, *, timed_out: bool, reason: Any) -> _Stop:
    if timed_out:
        return _Stop(
            TaskState.TIMEDOUT, f"the job timed out after {timedelta(seconds=job.timeout_seconds or 0)}"
        )
    return _Stop(TaskState.CANCELED, cancel_message(reason))


def _start_ready(run: _Run, stop: _Stop | None) -> tuple[bool, bool]:
    """One step of the DAG: settle what is decided without running, start the ready tasks as `run_task`
    sub-orchestrations. Returns (something was decided inline, something started)."""
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
            run.spent += _EVENTS_PER_TASK
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
        if isinstance(rendered.payload, WaitPayload):
            try:
                seconds = wait_seconds(rendered.payload.seconds)
            except ValueError as exc:
                run.settle(
                    key, TaskOutcome(state=TaskState.FAILED, message=f"{key}: {exc}", start=now, end=now)
                )
                decided_inline = True
                continue
            run.spent += _EVENTS_PER_TASK
            at = run.context.current_utc_datetime + timedelta(seconds=seconds)
            run.running[key] = run.context.create_timer(at)
            run.waits.add(key)
            run.mark_running(key, now)
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
        run.spent += _EVENTS_PER_TASK
        child_id = task_instance_id(run.req.run_id, key, run.repair_number)
        task_input = run.task_input(rendered)
        if starts_quick(task_input):
            run.running[key], run.quick[key] = start_quick(run.context, task_input, child_id)
        else:
            run.running[key] = call_orchestrator(run.context, registry.RUN_TASK, task_input, child_id)
            started = True
        run.mark_running(key, now)
    return decided_inline, started


def _start_for_each(run: _Run, task: Task, payload: ForEachPayload, now: str) -> bool:
    """Start the for_each task's `for_each` sub-orchestration; bad inputs fail it now, saying where."""
    try:
        value = run.for_each_input(task, payload)
    except (TemplateError, ValueError) as exc:
        run.settle(
            task.key, TaskOutcome(state=TaskState.FAILED, message=str(exc), start=now, end=now, attempts=0)
        )
        return False
    run.spent += _EVENTS_PER_TASK
    child_id = task_instance_id(run.req.run_id, task.key, run.repair_number)
    run.running[task.key] = call_orchestrator(run.context, registry.FOR_EACH, value, child_id)
    run.mark_running(task.key, now)
    return True


def _settle_finished_children(run: _Run, stop: _Stop | None) -> bool:
    """Settle what ended; a quick start that did not settle its task hands it to `run_task`. Returns
    whether a sub-orchestration was created."""
    handed = False
    for key, child in list(run.running.items()):
        if not child.is_completed:
            continue
        quick = run.quick.pop(key, None)
        if quick is not None:
            taken = after_quick(quick, child.result, stopped=stop is not None)
            if isinstance(taken, TaskOutcome):
                run.settle(key, taken, record=False)
            else:
                run.spent += _EVENTS_PER_TASK
                run.running[key] = call_orchestrator(run.context, registry.RUN_TASK, taken, quick.child_id)
                handed = True
            continue
        if key in run.waits:
            began = run.progress.tasks[key].start
            run.settle(key, TaskOutcome(state=TaskState.SUCCESS, start=began, end=run.now()))
            continue
        if isinstance(child.result, Exception):
            run.settle(
                key, TaskOutcome(state=TaskState.FAILED, message=failure_message(child.result), end=run.now())
            )
        else:
            outcome = registry.RUN_TASK.read(child.result)
            if isinstance(run.job.task(key).payload, UntilPayload | ForEachPayload):
                run.variables.update(outcome.details.get("variables") or {})
            if stop is not None and outcome.state in (TaskState.CANCELED, TaskState.TIMEDOUT):
                outcome.state, outcome.message = stop.state, stop.message  # taken over after the stop
            run.settle(key, outcome, record=False)
    return handed


def _finish(run: _Run, stop: _Stop | None) -> Generator[Any, Any, dict[str, Any]]:
    """The run's result (a stop overrides the DAG's), its record, the notification, the slot back."""
    context = run.context
    result = run_result(run.job, run.states) or RunResult.FAILED
    if stop is not None:
        result = RunResult.TIMEDOUT if stop.state == TaskState.TIMEDOUT else RunResult.CANCELED
    final_message = stop.message if stop is not None else _failure_summary(run.outcomes, run.states)
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
            call_store(context, registry.RELEASE_RUN_SLOT, run.slot_input),
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
    run = _Run(context, RunJobInput(request=request), block)
    start = run.now()
    item = {ITERATION_INPUT: block.scope.for_each_input} if block.scope.has_for_each_input else {}
    yield call_store(
        context, registry.RECORD_TASK_RUNS, _block_row(run, TaskState.RUNNING, start, parameters=item)
    )
    run.publish()
    yield from _walk(run)
    result = run_result(run.job, run.states)
    state = {
        RunResult.SUCCESS: TaskState.SUCCESS,
        RunResult.CANCELED: TaskState.CANCELED,
        RunResult.TIMEDOUT: TaskState.TIMEDOUT,
    }.get(result or RunResult.FAILED, TaskState.FAILED)
    summary = _failure_summary(run.inner(run.outcomes), run.inner(run.states))
    message = summary if state != TaskState.SUCCESS else None
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


def _block_row(run: _Run, state: TaskState, start: str, **fields: Any) -> TaskRecordBatch:
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
