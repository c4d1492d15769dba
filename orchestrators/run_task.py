"""`run_task`: one task of one run, all its attempts.

Each attempt is a `cluster_run` or `batch_fanout` sub-orchestration with its own instance id (task
instance + attempt), racing the task's timeout inside the attempt. Between attempts a durable timer
waits the retry interval (fixed or exponential with a cap). Task-run rows are written at every start
and end. An unbounded retry policy (`max_retries: -1`) continues as new every few attempts.
"""

from __future__ import annotations

from collections.abc import Generator
from datetime import timedelta
from typing import Any

import azure.durable_functions as df

from jobclusters.execution import registry
from jobclusters.execution.attempt_values import render_attempt
from jobclusters.execution.ids import attempt_instance_id
from jobclusters.execution.messages import (
    AttemptInput,
    TaskOutcome,
    TaskRecordBatch,
    TaskRecordInput,
    TaskRunInput,
)
from jobclusters.execution.public_errors import public_message
from jobclusters.execution.retry import may_retry, permanent_failure, retry_delay_millis
from jobclusters.execution.routing import attempt_orchestrator, attempt_retry_policy, unsupported_reason
from jobclusters.spec.model import TaskState
from orchestrators.common import call_orchestrator, call_store, decode_input, dump, failure_message, iso

bp = df.Blueprint()

ATTEMPTS_PER_EXECUTION = 10


def _row(
    run: TaskRunInput, state: TaskState, attempt: int, outcome: TaskOutcome | None = None, **extra: Any
) -> TaskRecordBatch:
    task = run.task
    row = TaskRecordInput(
        run_id=run.run_id,
        task_key=task.key,
        state=state,
        attempt=attempt + 1,
        generation=run.repair_number,
        parameters=task.parameters,
        secure_input=task.secure_input,
        secure_output=task.secure_output,
        **extra,
    )
    if outcome is not None:
        row = row.model_copy(
            update={
                "start": outcome.start or row.start,
                "end": outcome.end,
                "message": outcome.message,
                "compute_info": outcome.compute_info,
                "log_ref": outcome.log_ref,
                "log_refs": outcome.log_refs,
                "remote_id": outcome.remote_id,
                "queue_seconds": outcome.queue_seconds,
                "exit_code": outcome.exit_code,
                "output": outcome.task_values or None,
                "child_run_id": outcome.child_run_id,
            }
        )
    return TaskRecordBatch(rows=[row])


@bp.orchestration_trigger(context_name="context")
def run_task(context: df.DurableOrchestrationContext) -> Generator[Any, Any, dict[str, Any]]:
    run = decode_input(context, registry.RUN_TASK.input)
    task = run.task
    first_start = run.first_start or iso(context.current_utc_datetime)
    orchestrator = attempt_orchestrator(task)
    if orchestrator is None:
        return dump(
            TaskOutcome(
                state=TaskState.FAILED,
                message=unsupported_reason(task),
                start=first_start,
                end=first_start,
                attempts=0,
            )
        )
    policy = attempt_retry_policy(task)
    retries = run.retries_done
    while True:
        attempt_id = attempt_instance_id(context.instance_id, retries)
        started = context.current_utc_datetime
        context.set_custom_status(
            {"state": TaskState.RUNNING.value, "attempts": retries + 1, "attempt_id": attempt_id}
        )
        yield call_store(
            context, registry.RECORD_TASK_RUNS, _row(run, TaskState.RUNNING, retries, start=iso(started))
        )
        deadline = started + timedelta(seconds=task.timeout_seconds) if task.timeout_seconds else None
        attempt = AttemptInput(
            run=run.model_copy(update={"task": render_attempt(task, retries)}),
            attempt=retries,
            instance_id=attempt_id,
            deadline=iso(deadline) if deadline else None,
            started=iso(started),
        )
        try:
            raw = yield call_orchestrator(context, orchestrator, attempt, attempt_id)
            outcome = orchestrator.read(raw)
        except Exception as exc:
            outcome = TaskOutcome(
                state=TaskState.FAILED,
                message=failure_message(exc),
                start=iso(started),
                end=iso(context.current_utc_datetime),
            )
        outcome.attempts = retries + 1
        if retries == 0 and outcome.start:
            first_start = outcome.start  # the work's own start, not when the first attempt was asked for
        outcome.message = public_message(permanent_failure(outcome.message) or outcome.message)
        if may_retry(policy, retries, outcome.state, outcome.message):
            retries += 1
            delay = retry_delay_millis(policy, retries)
            yield call_store(
                context, registry.RECORD_TASK_RUNS, _row(run, outcome.state, retries - 1, outcome)
            )
            context.set_custom_status(
                {
                    "state": TaskState.WAITING_FOR_RETRY.value,
                    "attempts": retries,
                    "message": outcome.message,
                    "retry_at": iso(context.current_utc_datetime + timedelta(milliseconds=delay)),
                }
            )
            yield context.create_timer(context.current_utc_datetime + timedelta(milliseconds=delay))
            if retries % ATTEMPTS_PER_EXECUTION == 0:
                context.continue_as_new(
                    dump(run.model_copy(update={"retries_done": retries, "first_start": first_start}))
                )
                return {}
            continue
        yield call_store(context, registry.RECORD_TASK_RUNS, _row(run, outcome.state, retries, outcome))
        outcome.start = first_start
        return dump(outcome)
