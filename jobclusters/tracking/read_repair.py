"""Tracking rows that fell behind the orchestration's final state, and how they are brought up to it.

The orchestration's output is the truth about a finished run; tracking rows are its copy in Table storage.
Writes are read back (`activities.tracking`), but a storage account that loses acknowledged writes can
still leave a row behind: any read that sees the finished orchestration next to such a row repairs it.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any

from jobclusters.tracking.models import STATE_RANK, RunRecord, RunState, TaskRunRecord
from jobclusters.tracking.store import RunStore

log = logging.getLogger("jobclusters.tracking.read_repair")


class FinalStateNotReadBack(RuntimeError):
    """A final state was written but the read that followed did not find it: write it again."""


def behind(stored: RunRecord | TaskRunRecord | None, wanted: RunRecord | TaskRunRecord) -> bool:
    """Whether the stored row has not reached `wanted` (a later generation or state counts as reached)."""
    if stored is None:
        return True
    return (stored.generation, STATE_RANK[stored.state]) < (wanted.generation, STATE_RANK[wanted.state])


def _final(value: Any) -> RunState | None:
    try:
        state = RunState(str(value))
    except ValueError:
        return None
    return state if state.terminal else None


def _time(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


#: results with which a run can end before its running tasks do
_STOPPED_BY_THE_RUN = frozenset({RunState.CANCELED, RunState.TIMEDOUT})


def repairs(
    output: Any, run: RunRecord | None, tasks: list[TaskRunRecord]
) -> tuple[RunRecord | None, list[TaskRunRecord]]:
    """The rows to write so tracking agrees with a finished orchestration's `output` (run_job's)."""
    if not isinstance(output, dict):
        return None, []
    result = _final(output.get("result"))
    generation = int(output.get("repair_number") or 0)
    if result is None:
        return None, []
    fixed_run = None
    if run is not None and run.generation == generation and not run.state.terminal:
        fixed_run = run.model_copy(
            update={
                "state": result,
                "end_time": run.end_time or _time(output.get("end")),
                "error_message": run.error_message or output.get("message"),
            }
        )
    if result in _STOPPED_BY_THE_RUN:
        # run_job ends as soon as it has asked its running tasks to stop; they wind down (and upload
        # their logs) after it and write their own final rows. Settling those rows here would win the
        # forward-only race and drop what the task itself records.
        return fixed_run, []
    latest: dict[str, TaskRunRecord] = {}
    for row in tasks:
        if row.generation == generation and row.attempt >= latest.get(row.task_key, row).attempt:
            latest[row.task_key] = row
    fixed_tasks = []
    for key, row in latest.items():
        final = (output.get("tasks") or {}).get(key) or {}
        state = _final(final.get("state"))
        if state is not None and not row.state.terminal:
            fixed_tasks.append(
                row.model_copy(
                    update={
                        "state": state,
                        "end_time": row.end_time or _time(final.get("end")),
                        "error_message": row.error_message or final.get("message"),
                    }
                )
            )
    return fixed_run, fixed_tasks


async def repair_tracking(
    runs: RunStore | None, status: Any, tracked: tuple[RunRecord | None, list[TaskRunRecord]] | None
) -> tuple[RunRecord | None, list[TaskRunRecord]] | None:
    """`tracked` brought up to a completed orchestration's output (and written back); a failed repair is
    logged and the rows are shown as read."""
    if runs is None or tracked is None or status is None:
        return tracked
    runtime = getattr(getattr(status, "runtime_status", None), "value", None)
    if runtime != "Completed":
        return tracked
    run, tasks = tracked
    fixed_run, fixed_tasks = repairs(getattr(status, "output", None), run, tasks)
    if fixed_run is None and not fixed_tasks:
        return tracked
    try:
        if fixed_run is not None:
            await asyncio.to_thread(runs.record_run, fixed_run)
        if fixed_tasks:
            await asyncio.to_thread(runs.record_task_runs, fixed_tasks[0].run_id, fixed_tasks)
    except Exception:
        run_id = run.run_id if run is not None else fixed_tasks[0].run_id
        log.exception("tracking of run %s is behind its orchestration and could not be repaired", run_id)
        return tracked
    log.warning(
        "repaired tracking of a finished run: run row %s, task rows %s",
        "yes" if fixed_run else "no",
        [t.task_key for t in fixed_tasks],
    )
    replaced = {(t.task_key, t.attempt, t.generation): t for t in fixed_tasks}
    return fixed_run or run, [replaced.get((t.task_key, t.attempt, t.generation), t) for t in tasks]
