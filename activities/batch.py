"""Batch activities: prepare the pool and job, add a chunk of tasks, poll task counts, finish."""

from __future__ import annotations

import contextlib
import shlex
from pathlib import Path
from typing import Any

import azure.durable_functions as df
from pydantic import ValidationError

from jobclusters.execution.batch_logs import log_links, log_output_file
from jobclusters.execution.batch_mapping import (
    BatchMappingError,
    compute_info,
    compute_label,
    job_spec,
    pool_placement,
    task_spec,
)
from jobclusters.execution.cancel_handshake import submit_unless_canceled
from jobclusters.execution.ids import batch_id
from jobclusters.execution.messages import (
    AddChunkInput,
    AddChunkResult,
    BatchFinishInput,
    BatchFinishResult,
    BatchPollInput,
    BatchPollResult,
    BatchPrepareInput,
    BatchPrepareResult,
)
from jobclusters.execution.registry import BATCH_ADD_CHUNK, BATCH_FINISH, BATCH_POLL, BATCH_PREPARE, activity
from jobclusters.services import factory
from jobclusters.services.batch import BatchServiceError, BatchSpecError, PoolRef, make_task_id

bp = df.Blueprint()

#: failed tasks listed in a finished attempt's outcome (the count covers all of them)
MAX_FAILED_TASKS = 20
#: tasks Batch refused to add, listed per chunk, each message cut to the limit
MAX_ADD_FAILURES = 20
ADD_FAILURE_MESSAGE_LIMIT = 500


def absolutize_local_paths(command: str, base_dir: str | None) -> str:
    """Local mode: a relative script path in a command (`python scripts/x.py`) means the job file's folder,
    not the task's working directory."""
    if not base_dir:
        return command
    base = Path(base_dir)
    try:
        words = shlex.split(command)
    except ValueError:
        return command
    changed = False
    for i, word in enumerate(words):
        if word and not word.startswith(("-", "/", "$")) and "://" not in word and (base / word).is_file():
            words[i] = str((base / word).resolve())
            changed = True
    return shlex.join(words) if changed else command


@activity(bp, BATCH_PREPARE)
def batch_prepare(inp: BatchPrepareInput) -> BatchPrepareResult:
    """Ensure the pool (owner = attempt id) and create the job; both idempotent."""
    service = factory.get_batch_service()
    job_id = batch_id("job", inp.attempt_id)

    def submit() -> PoolRef:
        ref = service.ensure_pool(pool_placement(inp.run, inp.attempt_id), owner=inp.attempt_id)
        try:
            service.create_job(job_spec(inp.run, job_id, ref))
        except Exception:
            with contextlib.suppress(BatchServiceError):
                service.delete_pool(ref)  # no job will use it; a retry creates it again
            raise
        return ref

    def terminate(_: PoolRef) -> None:
        with contextlib.suppress(BatchServiceError):
            service.terminate_job(job_id)

    try:
        submission = submit_unless_canceled(
            factory.get_control_store(),
            control_id=inp.run.control_id,
            attempt_id=inp.attempt_id,
            kind="batch",
            submit=submit,
            handle_of=lambda _: {"job_id": job_id},
            cancel=terminate,
        )
    except (BatchMappingError, BatchSpecError, ValidationError) as exc:
        return BatchPrepareResult(error=f"the task cannot be mapped to Batch: {exc}")
    except BatchServiceError as exc:
        if exc.code in ("PoolNotFound", "InvalidPropertyValue", "InvalidRequestBody"):
            return BatchPrepareResult(error=f"Batch refused it: {exc}")
        raise
    ref = submission.submitted
    if ref is None:
        return BatchPrepareResult(canceled=True)
    return BatchPrepareResult(
        pool_ref=ref,
        job_id=job_id,
        compute=compute_label(ref),
        compute_info=compute_info(ref),
        canceled=submission.canceled,
    )


@activity(bp, BATCH_ADD_CHUNK)
def batch_add_chunk(inp: AddChunkInput) -> AddChunkResult:
    """Tasks [start, end) of the manifest; ids are run-derived, so a retried chunk adds nothing twice."""
    if factory.get_control_store().cancel_requested(inp.run_id):
        return AddChunkResult(added=0, canceled=True)
    inputs = factory.get_blob_refs().get_json(inp.manifest)[inp.start : inp.end]
    payload_model = inp.payload
    if factory.executors_share_this_filesystem():
        payload_model = payload_model.model_copy(
            update={"command_line": absolutize_local_paths(payload_model.command_line, inp.base_dir)}
        )
    logs_url = factory.batch_logs_container() if inp.log_prefix else None

    def logs_for(task_id: str) -> list[Any]:
        if logs_url is None or inp.log_prefix is None:
            return []
        return [log_output_file(logs_url, inp.log_prefix, task_id)]

    specs = []
    for offset, value in enumerate(inputs):
        task_id = make_task_id(inp.task_prefix, inp.start + offset)
        specs.append(
            task_spec(
                payload_model,
                task_id,
                inp.start + offset,
                None if value is None else str(value),
                inp.max_task_retries,
                extra_output_files=logs_for(task_id),
            )
        )
    result = factory.get_batch_service().add_tasks(inp.job_id, specs)
    return AddChunkResult(
        added=len(result.added),
        failed=[
            {"task_id": f.task_id, "code": f.code, "message": f.message[:ADD_FAILURE_MESSAGE_LIMIT]}
            for f in result.failed[:MAX_ADD_FAILURES]
        ],
    )


@activity(bp, BATCH_POLL)
def batch_poll(inp: BatchPollInput) -> BatchPollResult:
    """A canceled run's job is terminated here, so the next poll of the orchestrator sees it end."""
    service = factory.get_batch_service()
    if factory.get_control_store().cancel_requested(inp.run_id) is not None:
        with contextlib.suppress(BatchServiceError):
            service.terminate_job(inp.job_id)
        return BatchPollResult(canceled=True)
    counts = service.get_task_counts(inp.job_id)
    return BatchPollResult(
        active=counts.active,
        running=counts.running,
        completed=counts.completed,
        succeeded=counts.succeeded,
        failed=counts.failed,
    )


@activity(bp, BATCH_FINISH)
def batch_finish(inp: BatchFinishInput) -> BatchFinishResult:
    """Failed tasks with exit codes and log links; terminate the job; delete an on-demand pool we created."""
    service = factory.get_batch_service()
    failed: list[dict[str, Any]] = []
    count = 0
    if inp.job_id is not None:
        if inp.collect_failures:
            with contextlib.suppress(BatchServiceError):
                tasks = service.list_failed_tasks(inp.job_id)
                count = len(tasks)
                failed = [
                    t.model_dump(
                        mode="json",
                        include={"task_id", "exit_code", "code", "message", "retry_count", "log_urls"},
                    )
                    for t in tasks[:MAX_FAILED_TASKS]
                ]
        with contextlib.suppress(BatchServiceError):
            service.terminate_job(inp.job_id)
    deleted = False
    if inp.pool_ref is not None:
        deleted = service.delete_pool(inp.pool_ref)
    return BatchFinishResult(
        failed_tasks=failed, failed_count=count, pool_deleted=deleted, log_refs=_finish_log_refs(inp, failed)
    )


def _finish_log_refs(inp: BatchFinishInput, failed: list[dict[str, Any]]) -> dict[str, str]:
    """Links to the uploaded logs of the first failed task (else of task 0) and to the attempt's folder."""
    logs_url = factory.batch_logs_container() if inp.log_prefix and inp.task_prefix else None
    if logs_url is None or inp.log_prefix is None or inp.task_prefix is None:
        return {}
    task_id = str(failed[0]["task_id"]) if failed else make_task_id(inp.task_prefix, 0)
    links = log_links(logs_url, inp.log_prefix, task_id)
    links["all tasks"] = f"{logs_url.split('?', 1)[0].rstrip('/')}/{inp.log_prefix}/"
    return links
