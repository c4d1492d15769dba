"""`run_task`: one task of one run, all its attempts.

Each attempt is a `cluster_run` or `batch_fanout` sub-orchestration with its own instance id (task
instance + attempt), racing the task's timeout inside the attempt; a one-command Batch task (no fan-out)
runs its attempts here instead, in two activities that also write its rows (`inline_batch`). Between
attempts a durable timer waits the retry interval (fixed or exponential with a cap). Task-run rows are
written at every start and end. An unbounded retry policy (`max_retries: -1`) continues as new every
few attempts. A one-command task's first attempt may have been started by `run_job` (`quick_batch`):
then `run_task` goes on polling it (`inline`) or waits to retry after it (`retry_after`).
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
)
from jobclusters.execution.retry import may_retry, retry_delay_millis
from jobclusters.execution.routing import attempt_orchestrator, attempt_retry_policy, unsupported_reason
from jobclusters.execution.task_rows import settled_message, task_row
from jobclusters.spec.model import RetryPolicy, TaskState
from orchestrators.common import (
    call_orchestrator,
    call_store,
    decode_input,
    dump,
    failure_message,
    iso,
    parse_iso,
)
from orchestrators.inline_batch import ContinuedAsNew, inline_attempt, runs_inline

bp = df.Blueprint()

ATTEMPTS_PER_EXECUTION = 10


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
    inline = orchestrator.name == registry.BATCH_FANOUT.name and runs_inline(run)
    if run.retry_after is not None:
        yield from _wait_to_retry(context, policy, retries, run.retry_after)
        run = run.model_copy(update={"retry_after": None})
    while True:
        attempt_id = attempt_instance_id(context.instance_id, retries)
        resumed = run.inline if inline else None
        started = parse_iso(resumed.started) if resumed else context.current_utc_datetime
        assert started is not None
        context.set_custom_status(
            {"state": TaskState.RUNNING.value, "attempts": retries + 1, "attempt_id": attempt_id}
        )
        if resumed is not None:
            deadline = parse_iso(resumed.deadline)
        else:
            deadline = started + timedelta(seconds=task.timeout_seconds) if task.timeout_seconds else None
        recorded = False
        this_attempt = run.model_copy(update={"task": render_attempt(task, retries)})
        try:
            if inline:
                result = yield from inline_attempt(
                    context, this_attempt, retries, attempt_id, started, deadline
                )
                if isinstance(result, ContinuedAsNew):
                    update = {"retries_done": retries, "first_start": first_start, "inline": result.state}
                    context.continue_as_new(dump(run.model_copy(update=update)))
                    return {}
                outcome, recorded = result
            else:
                yield call_store(
                    context,
                    registry.RECORD_TASK_RUNS,
                    task_row(run, TaskState.RUNNING, retries, start=iso(started)),
                )
                attempt = AttemptInput(
                    run=this_attempt,
                    attempt=retries,
                    instance_id=attempt_id,
                    deadline=iso(deadline) if deadline else None,
                    started=iso(started),
                )
                raw = yield call_orchestrator(context, orchestrator, attempt, attempt_id)
                outcome = orchestrator.read(raw)
        except Exception as exc:
            outcome = TaskOutcome(
                state=TaskState.FAILED,
                message=failure_message(exc),
                start=iso(started),
                end=iso(context.current_utc_datetime),
            )
        run = run.model_copy(update={"inline": None})
        outcome.attempts = retries + 1
        if retries == 0 and outcome.start:
            first_start = outcome.start  # the work's own start, not when the first attempt was asked for
        outcome.message = settled_message(outcome.message)
        if may_retry(policy, retries, outcome.state, outcome.message):
            retries += 1
            if not recorded:
                yield call_store(
                    context, registry.RECORD_TASK_RUNS, task_row(run, outcome.state, retries - 1, outcome)
                )
            yield from _wait_to_retry(context, policy, retries, outcome)
            if retries % ATTEMPTS_PER_EXECUTION == 0:
                context.continue_as_new(
                    dump(run.model_copy(update={"retries_done": retries, "first_start": first_start}))
                )
                return {}
            continue
        if not recorded:
            yield call_store(
                context, registry.RECORD_TASK_RUNS, task_row(run, outcome.state, retries, outcome)
            )
        outcome.start = first_start
        return dump(outcome)


def _wait_to_retry(
    context: Any, policy: RetryPolicy, retries: int, before: TaskOutcome
) -> Generator[Any, Any, None]:
    """The retry interval before attempt `retries` (0-based), shown as waiting for a retry."""
    delay = retry_delay_millis(policy, retries)
    at = context.current_utc_datetime + timedelta(milliseconds=delay)
    context.set_custom_status(
        {
            "state": TaskState.WAITING_FOR_RETRY.value,
            "attempts": retries,
            "message": before.message,
            "retry_at": iso(at),
        }
    )
    yield context.create_timer(at)
