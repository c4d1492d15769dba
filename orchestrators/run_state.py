"""The state of one run (or one ADF block) while `run_job`'s walk goes through it, and the envelope a run's
instance gets. `Run` is pure: it holds states, outcomes, the live progress (the custom status), the rows
to write and the history the execution has spent, and renders tasks and their inputs; the orchestrators
yield, it decides nothing that needs a replay."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from jobclusters.execution.control_messages import BlockInput, ForEachInput, UntilInput
from jobclusters.execution.deadlines import seconds_left
from jobclusters.execution.ids import task_instance_id
from jobclusters.execution.messages import (
    NotifyEvent,
    NotifyInput,
    RunRecordInput,
    SlotInput,
    TaskOutcome,
    TaskRecordInput,
    TaskRunInput,
)
from jobclusters.execution.rendering import render_task, run_parameters, template_context, trigger_files
from jobclusters.execution.routing import unsupported_reason
from jobclusters.run_request import RunProgress, RunRequest, TaskProgress
from jobclusters.spec.adf_branches import choose_branch, join_state
from jobclusters.spec.adf_control import RETURN_VALUE, filter_items, set_variable
from jobclusters.spec.dag import evaluate_condition
from jobclusters.spec.for_each import check_concurrency, parse_inputs
from jobclusters.spec.model import (
    BlockPayload,
    BranchPayload,
    ConditionPayload,
    FailPayload,
    FilterPayload,
    ForEachPayload,
    Job,
    JoinPayload,
    SetVariablePayload,
    Task,
    TaskState,
    UntilPayload,
)
from jobclusters.spec.templating import TemplateContext, TemplateError, render
from orchestrators.common import (
    FAILURE_MESSAGE_LIMIT,
    iso,
)
from orchestrators.quick_batch import QuickStart

#: compute descriptions kept on the run record (one per task that ran, the first ones)
MAX_RECORDED_COMPUTE = 20


#: estimated history events one execution of the walk may spend before it continues as new (the extension
#: and devhost both slow down past ~1,000; admission, start and finish add a few dozen)
HISTORY_BUDGET = 800
#: what starting a task costs: its sub-orchestration (created, completed)
EVENTS_PER_TASK = 4
#: held back while a task runs: the wait that sees it end and the write of its row (charged when they
#: happen), so the tasks running when the budget runs out can still finish within it
_EVENTS_PER_COMPLETION = 8
#: what one wait of the walk, or one batched write of rows, costs: the episode, and the zero-delay timer
#: after a wave of starts (or the activity's scheduled and completed events)
EVENTS_PER_WAIT = 4


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


def decode_run_input(context: Any) -> RunJobInput:
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


def failure_summary(outcomes: dict[str, TaskOutcome], states: dict[str, TaskState]) -> str | None:
    for key, state in states.items():
        if state in (TaskState.FAILED, TaskState.TIMEDOUT):
            message = outcomes[key].message if key in outcomes else None
            return f"{key}: {message or state.value}"[:FAILURE_MESSAGE_LIMIT]
    return None


#: where a for_each's settings are in each home format: (object, its inputs field)
_FOR_EACH_FIELDS = {"adf": ("typeProperties", "items"), "databricks": ("for_each_task", "inputs")}


class Run:
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
        limit = self.job.max_concurrent_runs
        self.slot_input = (  # None: the job has no limit, so its runs take no slot
            SlotInput(job_id=self.req.job_id, run_id=self.req.run_id, max_concurrent_runs=limit)
            if limit is not None
            else None
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
        return self.spent + held + EVENTS_PER_TASK <= HISTORY_BUDGET

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

    def mark_running(self, key: str, now: str, record: bool = False) -> None:
        """`record`: the walk keeps the task's rows itself (a Wait), so it writes the RUNNING one too."""
        self.states[key] = TaskState.RUNNING
        progress = self.progress.tasks[key]
        progress.state, progress.start = TaskState.RUNNING, now
        self._changed.add(key)
        if record:
            self.rows.append(self._row(key, TaskState.RUNNING, start=now))

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
            self.rows.append(
                self._row(key, outcome.state, start=outcome.start, end=outcome.end, message=outcome.message)
            )

    def _row(self, key: str, state: TaskState, **fields: Any) -> TaskRecordInput:
        task = self.job.task(key)
        return TaskRecordInput(
            run_id=self.tracked_id,
            task_key=key,
            state=state,
            generation=self.repair_number,
            secure_input=task.secure_input,
            secure_output=task.secure_output,
            **fields,
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
            outer_deadline=self.deadline,
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

    @property
    def deadline(self) -> str | None:
        """An enclosing Until's deadline, which every task this walk starts keeps (`deadlines`)."""
        return self.block.deadline if self.block is not None else None

    def time_left(self) -> float | None:
        return seconds_left(self.deadline, self.context.current_utc_datetime)

    def for_each_input(self, task: Task, payload: ForEachPayload) -> ForEachInput:
        """The for_each's inputs resolved now (they may name job parameters or upstream task values); the
        nested task renders per iteration. Raises `ForEachError` / `TemplateError` naming the JSON path."""
        context = self.template_context(task)
        field, inputs = _FOR_EACH_FIELDS.get(self.job.source_format or "", ("payload", "inputs"))
        path = f"{task.source_path or '$'}.{field}"
        items = f"{path}.{inputs}"
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
            deadline=self.deadline,
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
