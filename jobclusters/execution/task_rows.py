"""The task-run row of an attempt, and the message an attempt's outcome settles on: one implementation for
`run_task` and for the activity that ends a one-command attempt and records it in the same call."""

from __future__ import annotations

from typing import Any

from jobclusters.execution.messages import TaskOutcome, TaskRecordBatch, TaskRecordInput, TaskRunInput
from jobclusters.execution.public_errors import public_message
from jobclusters.execution.retry import permanent_failure
from jobclusters.spec.model import TaskState


def task_row(
    run: TaskRunInput, state: TaskState, attempt: int, outcome: TaskOutcome | None = None, **extra: Any
) -> TaskRecordBatch:
    """`attempt`: zero-based (the row numbers attempts from 1). `extra` may set the row's `parameters`
    (a loop records its iteration count there) instead of the task's."""
    task = run.task
    row = TaskRecordInput(
        run_id=run.run_id,
        task_key=task.key,
        state=state,
        attempt=attempt + 1,
        generation=run.repair_number,
        parameters=extra.pop("parameters", task.parameters),
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


def settled_message(message: str | None) -> str | None:
    """What an attempt's message reads as in its outcome and row: a permanent failure's reason, public."""
    return public_message(permanent_failure(message) or message)
