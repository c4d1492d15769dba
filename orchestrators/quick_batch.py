"""The first attempt of a one-command Batch task, started by `run_job` itself as one activity.

Most such tasks end within the first poll interval where the executor signals (locally: a command that
takes milliseconds). For them a `run_task` sub-orchestration is two episodes and a queue hop per task for
no work: `run_job` calls `batch_start` directly (row, pool, job, task and, where it can wait, the first
poll), and a task that ended there without asking for a retry is settled at once. Anything else goes on
in `run_task` exactly as if it had started the attempt (same instance and attempt ids, so nothing is
added twice):

| `batch_start` ...                           | then `run_task` ...                                        |
|---------------------------------------------|------------------------------------------------------------|
| ended the attempt, no retry due             | (none: settled with the recorded outcome)                  |
| ended the attempt, a retry due              | waits the retry interval, runs attempt 2 on (`retry_after`) |
| left it running (or could not add the task) | polls the same attempt on (`inline`)                        |
| failed, or could not prepare                | runs attempt 1 from its start (each step is idempotent)     |

After a cancel or the job's timeout a due retry is not run: the attempt's own outcome settles the task.
Deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from jobclusters.execution import registry
from jobclusters.execution.attempt_values import render_attempt
from jobclusters.execution.batch_logs import log_prefix
from jobclusters.execution.fanout_outcome import started_state
from jobclusters.execution.ids import attempt_instance_id
from jobclusters.execution.messages import (
    BatchStartInput,
    InlineAttempt,
    TaskOutcome,
    TaskRunInput,
)
from jobclusters.execution.retry import may_retry
from jobclusters.execution.routing import attempt_orchestrator, attempt_retry_policy
from jobclusters.execution.task_rows import task_row
from jobclusters.spec.model import TaskState
from orchestrators.common import call, iso
from orchestrators.inline_batch import runs_inline


def starts_quick(run: TaskRunInput) -> bool:
    """A task `run_task` would run as one inline Batch attempt."""
    orchestrator = attempt_orchestrator(run.task)
    return orchestrator is not None and orchestrator.name == registry.BATCH_FANOUT.name and runs_inline(run)


@dataclass(frozen=True)
class QuickStart:
    """A started first attempt: what `run_task` needs to take it over."""

    run: TaskRunInput
    child_id: str
    started: str
    deadline: str | None


def start_quick(context: Any, run: TaskRunInput, child_id: str) -> tuple[Any, QuickStart]:
    """The `batch_start` call of attempt 1 (as `run_task` `child_id` would make it): its task to wait on."""
    now = context.current_utc_datetime
    started = iso(now)
    deadline = iso(now + timedelta(seconds=run.task.timeout_seconds)) if run.task.timeout_seconds else None
    attempt = run.model_copy(update={"task": render_attempt(run.task, 0)})
    start = BatchStartInput(
        run=attempt,
        attempt_id=attempt_instance_id(child_id, 0),
        owner=context.instance_id,
        row=task_row(attempt, TaskState.RUNNING, 0, start=started),
        log_prefix=log_prefix(run.control_id, run.task.key, 1),
        signal_to=child_id,
        attempt=0,
        started=started,
        deadline=deadline,
    )
    # `run_task` taking the attempt over keeps the pool's owner, so the pool stays one it created
    taken_over = run.model_copy(update={"pool_owner": context.instance_id})
    return call(context, registry.BATCH_START, start), QuickStart(taken_over, child_id, started, deadline)


def after_quick(quick: QuickStart, result: Any, stopped: bool) -> TaskOutcome | TaskRunInput:
    """The settled outcome (already recorded), or the `run_task` input that takes the attempt over.
    `result`: the activity's raw result, or the exception it failed with."""
    if isinstance(result, Exception):
        return quick.run
    started = registry.BATCH_START.read(result)
    if started.prepare.error is not None:
        return quick.run
    checked = started.checked
    if checked is None or checked.outcome is None:
        fanout = checked.fanout if checked is not None else started_state(started)
        return quick.run.model_copy(update={"inline": _attempt(quick, fanout)})
    outcome = checked.outcome.model_copy(update={"attempts": 1})
    policy = attempt_retry_policy(quick.run.task)
    if stopped or not may_retry(policy, 0, outcome.state, outcome.message):
        return outcome
    return quick.run.model_copy(
        update={"retries_done": 1, "first_start": outcome.start or quick.started, "retry_after": outcome}
    )


def _attempt(quick: QuickStart, fanout: Any) -> InlineAttempt:
    return InlineAttempt(attempt=0, started=quick.started, deadline=quick.deadline, fanout=fanout)
