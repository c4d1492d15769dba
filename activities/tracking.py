"""Tracking activities: the run row and task-run rows in Table storage (upserts that only move forward).

A final state is read back after it is written: a write the storage acknowledged and then lost (an
emulator killed right after) would otherwise leave a row RUNNING for good. When the read finds the row
behind, the activity fails and the orchestration's retry (`call_store`) writes it again.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

import azure.durable_functions as df

from jobclusters.cost.ledger_rows import with_run_cost, with_task_cost
from jobclusters.execution.messages import RunRecordInput, TaskRecordBatch, TaskRecordInput
from jobclusters.execution.public_errors import public_message
from jobclusters.execution.registry import RECORD_RUN, RECORD_TASK_RUNS, activity
from jobclusters.services import factory
from jobclusters.spec.model import TaskState
from jobclusters.tracking.models import ComputeInfo, Links, RunRecord, RunState, TaskRunRecord, Trigger
from jobclusters.tracking.read_repair import FinalStateNotReadBack, behind

bp = df.Blueprint()

_TASK_STATES = {
    TaskState.WAITING_FOR_RETRY: RunState.RUNNING,
    TaskState.UPSTREAM_CANCELED: RunState.CANCELED,
}
_TRIGGER_KINDS = {
    "cli": "cli",
    "http": "http",
    "blob": "blob",
    "servicebus": "servicebus",
    "schedule": "schedule",
    "repair": "repair",
    "run_job": "run_job",
}
_SOURCE_KEYS = ("parent", "blob_path", "blob_url", "path", "url", "message_id", "cron", "schedule", "route")


def _ts(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def task_state(state: TaskState) -> RunState:
    mapped = _TASK_STATES.get(state)
    return mapped if mapped is not None else RunState(state.value)


def trigger_record(trigger: dict[str, Any]) -> Trigger | None:
    if not trigger:
        return None
    detail = trigger.get("detail") or {}
    source = next((str(detail[k]) for k in _SOURCE_KEYS if detail.get(k)), None)
    event = detail.get("etag") or detail.get("message_id") or detail.get("idempotency_key")
    return Trigger(
        kind=_TRIGGER_KINDS.get(str(trigger.get("kind")), "other"),  # type: ignore[arg-type]
        source=source,
        actor=trigger.get("actor"),
        event_id=str(event) if event else None,
    )


def run_record(inp: RunRecordInput) -> RunRecord:
    return RunRecord(
        run_id=inp.run_id,
        job_id=inp.job_id,
        state=RunState(inp.state),
        generation=inp.generation,
        created_at=datetime.fromisoformat(inp.created_at),
        trigger=trigger_record(inp.trigger),
        parameters=inp.parameters,
        start_time=_ts(inp.start),
        end_time=_ts(inp.end),
        error_message=public_message(inp.message),
        compute=[ComputeInfo.model_validate(c) for c in inp.compute],
        tags=inp.tags,
    )


def _log_links(inp: TaskRecordInput) -> dict[str, str]:
    """Named links win over the single `driver` link (a Batch task's uploaded logs replace the node path)."""
    if inp.log_refs:
        return dict(inp.log_refs)
    return {"driver": inp.log_ref} if inp.log_ref else {}


def task_record(inp: TaskRecordInput) -> TaskRunRecord:
    return with_task_cost(_task_record(inp))


def _task_record(inp: TaskRecordInput) -> TaskRunRecord:
    return TaskRunRecord(
        run_id=inp.run_id,
        task_key=inp.task_key,
        attempt=inp.attempt,
        state=task_state(inp.state),
        generation=inp.generation,
        start_time=_ts(inp.start),
        end_time=_ts(inp.end),
        parameters=inp.parameters,
        secure_input=inp.secure_input,
        output=inp.output,
        secure_output=inp.secure_output,
        error_message=public_message(inp.message),
        queue_seconds=inp.queue_seconds,
        compute=ComputeInfo.model_validate(inp.compute_info) if inp.compute_info else None,
        links=Links(logs=_log_links(inp)),
        external_id=inp.remote_id,
        exit_code=inp.exit_code,
        child_run_id=inp.child_run_id,
    )


@activity(bp, RECORD_RUN)
def record_run(inp: RunRecordInput) -> str:
    store = factory.get_run_store()
    record = run_record(inp)
    if record.state.terminal:
        record = with_run_cost(record, store.get_run_with_tasks(record.run_id)[1])
    result = store.record_run(record)
    if record.state.terminal and behind(store.get_run(record.run_id), record):
        raise FinalStateNotReadBack(f"run {record.run_id}: {record.state.value} was not read back")
    return str(result.state.value)


@activity(bp, RECORD_TASK_RUNS)
def record_task_runs(batch: TaskRecordBatch) -> int:
    return write_task_rows(batch)


def write_task_rows(batch: TaskRecordBatch) -> int:
    """Also called by the activities that start or end an attempt and record it in the same call."""
    by_run: dict[str, list[TaskRunRecord]] = defaultdict(list)
    for row in batch.rows:
        by_run[row.run_id].append(task_record(row))
    store = factory.get_run_store()
    written = 0
    for run_id, rows in by_run.items():
        written += int(store.record_task_runs(run_id, rows))
        final = [r for r in rows if r.state.terminal]
        if final:
            stored = {(t.task_key, t.attempt): t for t in store.get_task_runs(run_id, final)}
            lost = [r.task_key for r in final if behind(stored.get((r.task_key, r.attempt)), r)]
            if lost:
                raise FinalStateNotReadBack(f"run {run_id}: final states of {lost} were not read back")
    return written
