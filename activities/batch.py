"""Batch activities: prepare the pool and job, add a chunk of tasks, poll task counts, finish."""

from __future__ import annotations

import contextlib
import threading
import time
from datetime import UTC, datetime
from typing import Any

import azure.durable_functions as df
from pydantic import ValidationError

from activities.tracking import write_task_rows
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
from jobclusters.execution.fanout_outcome import finished_outcome, started_state
from jobclusters.execution.ids import batch_id
from jobclusters.execution.job_files import JobFilesError, stage
from jobclusters.execution.messages import (
    AddChunkInput,
    AddChunkResult,
    BatchCheckInput,
    BatchCheckResult,
    BatchFinishInput,
    BatchFinishResult,
    BatchPollInput,
    BatchPollResult,
    BatchPrepareInput,
    BatchPrepareResult,
    BatchStartInput,
    BatchStartResult,
)
from jobclusters.execution.node_time import NodeTime
from jobclusters.execution.polling import WORK_ENDED, schedule_from_settings
from jobclusters.execution.registry import (
    BATCH_ADD_CHUNK,
    BATCH_CHECK,
    BATCH_FINISH,
    BATCH_POLL,
    BATCH_PREPARE,
    BATCH_START,
    activity,
    activity_with_client,
)
from jobclusters.execution.routing import per_input_retries
from jobclusters.execution.task_rows import settled_message, task_row
from jobclusters.failed_inputs import MAX_LISTED, MESSAGE_LIMIT, FailedInput
from jobclusters.services import factory
from jobclusters.services.batch import (
    BatchService,
    BatchServiceError,
    BatchSpecError,
    FailedTask,
    PoolRef,
    make_task_id,
    task_index,
)
from jobclusters.services.work_signals import EventRaiser, SignalsJobEnd
from jobclusters.spec.model import CommandPayload

bp = df.Blueprint()

#: tasks Batch refused to add, listed per chunk, each message cut to the limit
MAX_ADD_FAILURES = 20
ADD_FAILURE_MESSAGE_LIMIT = 500
#: how long finishing waits for terminated tasks to end (and upload their logs) before deleting the pool
TERMINATED_TASKS_WAIT_SECONDS = 60.0


@activity(bp, BATCH_PREPARE)
def batch_prepare(inp: BatchPrepareInput) -> BatchPrepareResult:
    return prepare(inp)


def prepare(inp: BatchPrepareInput) -> BatchPrepareResult:
    """Stage the job's files, ensure the pool (owned by the instance that runs the attempt) and create the
    job; all idempotent."""
    service = factory.get_batch_service()
    job_id = batch_id("job", inp.attempt_id)
    try:
        job_files = stage(
            inp.run.base_dir, factory.get_job_files_store(), exclude=(factory.settings().state_dir,)
        )
    except JobFilesError as exc:
        return BatchPrepareResult(error=str(exc))

    def submit() -> PoolRef:
        ref = service.ensure_pool(pool_placement(inp.run, inp.attempt_id), owner=inp.owner or inp.attempt_id)
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
        job_files=job_files,
        poll=schedule_from_settings("batch", factory.settings(), signals=isinstance(service, SignalsJobEnd)),
    )


def _signal_when_done(service: BatchService, job_id: str, signal_to: str | None, client: str | None) -> None:
    """Where the executor can tell (the local one), the waiting orchestration wakes when the job's tasks
    have all ended rather than at its next poll."""
    raiser = EventRaiser.from_binding(client) if signal_to else None
    if raiser is not None and signal_to is not None and isinstance(service, SignalsJobEnd):
        service.when_job_done(job_id, raiser.notifier(signal_to, WORK_ENDED))


@activity_with_client(bp, BATCH_ADD_CHUNK)
def batch_add_chunk(inp: AddChunkInput, client: str | None) -> AddChunkResult:
    """Tasks [start, end) of the manifest; ids are run-derived, so a retried chunk adds nothing twice."""
    if factory.get_control_store().cancel_requested(inp.run_id):
        return AddChunkResult(added=0, canceled=True)
    inputs = factory.get_blob_refs().get_json(inp.manifest)[inp.start : inp.end]
    return add_tasks(inp, inputs, _input_indexes(inp.indexes, inp.start, inp.end), client)


def add_tasks(
    inp: AddChunkInput, inputs: list[Any], indexes: list[int], client: str | None
) -> AddChunkResult:
    logs_url = factory.batch_logs_container() if inp.log_prefix else None

    def logs_for(task_id: str) -> list[Any]:
        if logs_url is None or inp.log_prefix is None:
            return []
        return [log_output_file(logs_url, inp.log_prefix, task_id)]

    specs = []
    for index, value in zip(indexes, inputs, strict=True):
        task_id = make_task_id(inp.task_prefix, index)
        specs.append(
            task_spec(
                inp.payload,
                task_id,
                index,
                None if value is None else str(value),
                inp.max_task_retries,
                extra_output_files=logs_for(task_id),
                job_files=inp.job_files,
            )
        )
    service = factory.get_batch_service()
    result = service.add_tasks(inp.job_id, specs)
    _signal_when_done(service, inp.job_id, inp.signal_to, client)
    return AddChunkResult(
        added=len(result.added),
        failed=[
            {"task_id": f.task_id, "code": f.code, "message": f.message[:ADD_FAILURE_MESSAGE_LIMIT]}
            for f in result.failed[:MAX_ADD_FAILURES]
        ],
    )


def _input_indexes(ref: str | None, start: int, end: int) -> list[int]:
    """Each planned input's own index: its position, unless a repair planned only some inputs."""
    if ref is None:
        return list(range(start, end))
    return [int(i) for i in factory.get_blob_refs().get_json(ref)[start:end]]


@activity_with_client(bp, BATCH_POLL)
def batch_poll(inp: BatchPollInput, client: str | None) -> BatchPollResult:
    return poll(inp, client)


def poll(inp: BatchPollInput, client: str | None) -> BatchPollResult:
    """A canceled run's job is terminated here, so the next poll of the orchestrator sees it end."""
    service = factory.get_batch_service()
    if factory.get_control_store().cancel_requested(inp.run_id) is not None:
        with contextlib.suppress(BatchServiceError):
            service.terminate_job(inp.job_id)
        return BatchPollResult(canceled=True, node_time=inp.node_time)
    node_time = _count_nodes(service, inp)
    counts = service.get_task_counts(inp.job_id)
    if not counts.done:
        _signal_when_done(service, inp.job_id, inp.signal_to, client)
    span = service.get_work_span(inp.job_id) if counts.done else None
    return BatchPollResult(
        active=counts.active,
        running=counts.running,
        completed=counts.completed,
        succeeded=counts.succeeded,
        failed=counts.failed,
        work_start=span.start_time.isoformat() if span and span.start_time else None,
        work_end=span.end_time.isoformat() if span and span.end_time else None,
        node_time=node_time,
    )


def _count_nodes(service: BatchService, inp: BatchPollInput) -> NodeTime | None:
    """The attempt's node time with this poll's count folded in. Only a pool made for the attempt: an
    existing pool's nodes also run other work. A failed read loses one sample, never the poll."""
    ref = inp.pool_ref
    if ref is None or not ref.created or ref.pool_id is None:
        return inp.node_time
    try:
        nodes = service.get_pool_nodes(ref.pool_id)
    except BatchServiceError:
        return inp.node_time
    if nodes is None:
        return inp.node_time
    return (inp.node_time or NodeTime()).observe(nodes, datetime.now(UTC))


@activity(bp, BATCH_FINISH)
def batch_finish(inp: BatchFinishInput) -> BatchFinishResult:
    return finish(inp)


def finish(inp: BatchFinishInput) -> BatchFinishResult:
    """Every failed input with its exit code and log links; terminate the job; delete an on-demand pool
    we created. The first `MAX_LISTED` go in the result, all of them in a blob when there are more."""
    service = factory.get_batch_service()
    failed: list[FailedInput] = []
    if inp.job_id is not None:
        if inp.collect_failures:
            with contextlib.suppress(BatchServiceError):
                failed = _failed_inputs(inp, service.list_failed_tasks(inp.job_id))
        with contextlib.suppress(BatchServiceError):
            service.terminate_job(inp.job_id)
            if inp.pool_ref is not None:
                _wait_until_tasks_end(service, inp.job_id)
    deleted = False
    if inp.pool_ref is not None:
        deleted = service.delete_pool(inp.pool_ref)
    ref = None
    if len(failed) > MAX_LISTED:
        everything = [f.model_dump(mode="json") for f in failed]
        ref = factory.get_blob_refs().put_json(f"failed-inputs/{inp.job_id}.json", everything)
    listed = [f.model_dump(mode="json") for f in failed[:MAX_LISTED]]
    return BatchFinishResult(
        failed_tasks=listed,
        failed_count=len(failed),
        failed_ref=ref,
        pool_deleted=deleted,
        log_refs=_finish_log_refs(inp, listed),
    )


def _wait_until_tasks_end(service: BatchService, job_id: str) -> None:
    """Tasks the terminate ended upload their output files (their logs) as they end: deleting their
    pool before would take the files along. Bounded: a node that never reports back keeps no run open."""
    deadline = time.monotonic() + TERMINATED_TASKS_WAIT_SECONDS
    while service.get_task_counts(job_id).running and time.monotonic() < deadline:
        time.sleep(0.1)


def _failed_inputs(inp: BatchFinishInput, tasks: list[FailedTask]) -> list[FailedInput]:
    """Failed Batch tasks as the inputs they ran: index (from the task id), value (from the manifest)
    and links to the logs Batch uploaded (a node's own files go with its pool)."""
    if not tasks:
        return []
    values: list[Any] = factory.get_blob_refs().get_json(inp.manifest) if inp.manifest else []
    positions = (
        [int(i) for i in factory.get_blob_refs().get_json(inp.indexes)] if inp.indexes else range(len(values))
    )
    value_of = dict(zip(positions, values, strict=False))
    logs_url = factory.batch_logs_container() if inp.log_prefix else None
    out = []
    for task in tasks:
        index = task_index(task.task_id)
        value = value_of.get(index)
        links = task.log_urls
        if logs_url is not None and inp.log_prefix is not None:
            links = log_links(logs_url, inp.log_prefix, task.task_id)
        out.append(
            FailedInput(
                index=index,
                input=None if value is None else str(value),
                task_id=task.task_id,
                exit_code=task.exit_code,
                code=task.code,
                message=(task.message or "")[:MESSAGE_LIMIT] or None,
                retry_count=task.retry_count,
                log_urls=links,
            )
        )
    return out


def _finish_log_refs(inp: BatchFinishInput, failed: list[dict[str, Any]]) -> dict[str, str]:
    """Links to the uploaded logs of the first failed task (else of the first task), of every listed
    failed input (`input <index> stderr.txt`), and to the attempt's folder."""
    logs_url = factory.batch_logs_container() if inp.log_prefix and inp.task_prefix else None
    if logs_url is None or inp.log_prefix is None or inp.task_prefix is None:
        return {}
    first = int(factory.get_blob_refs().get_json(inp.indexes)[0]) if inp.indexes else 0
    task_id = str(failed[0]["task_id"]) if failed else make_task_id(inp.task_prefix, first)
    links = log_links(logs_url, inp.log_prefix, task_id)
    for each in failed:
        for name, url in dict(each.get("log_urls") or {}).items():
            links[f"input {each['index']} {name}"] = url
    links["all tasks"] = f"{logs_url.split('?', 1)[0].rstrip('/')}/{inp.log_prefix}/"
    return links


@activity_with_client(bp, BATCH_START)
def batch_start(inp: BatchStartInput, client: str | None) -> BatchStartResult:
    """The start of a one-command attempt in one call: its RUNNING row, the pool and job, its one task.
    Each step is idempotent, so a retried call repeats nothing. Where the executor signals the task's end,
    the first poll interval is waited out here rather than in the orchestrator, and the poll made once the
    task ended: a quick task ends in this call (its finish and row too), two hops fewer."""
    write_task_rows(inp.row)
    prepared = prepare(BatchPrepareInput(run=inp.run, attempt_id=inp.attempt_id, owner=inp.owner))
    if prepared.error is not None or prepared.canceled or prepared.job_id is None:
        return BatchStartResult(prepare=prepared)
    payload = inp.run.task.payload
    assert isinstance(payload, CommandPayload)
    chunk = AddChunkInput(
        run_id=inp.run.control_id,
        job_id=prepared.job_id,
        task_prefix=inp.run.task.key,
        payload=payload,
        manifest="",
        start=0,
        end=1,
        environment=inp.run.environment,
        job_files=prepared.job_files,
        max_task_retries=per_input_retries(inp.run.task),
        log_prefix=inp.log_prefix,
    )
    added = add_tasks(chunk, [None], [0], client)
    if added.failed:
        first = added.failed[0]
        result = BatchStartResult(
            prepare=prepared, add_error=f"the task could not be added: {first['code']}: {first['message']}"
        )
    else:
        result = BatchStartResult(prepare=prepared)
        service = factory.get_batch_service()
        if _ended_within_first_interval(service, prepared, inp.deadline):
            result.checked = check_attempt(
                BatchCheckInput(
                    run=inp.run,
                    attempt=inp.attempt,
                    started=inp.started,
                    fanout=started_state(result),
                    log_prefix=inp.log_prefix,
                ),
                client,
            )
            if result.checked.outcome is not None:
                return result
        _signal_when_done(service, prepared.job_id, inp.signal_to, client)
    return result


def _ended_within_first_interval(
    service: BatchService, prepared: BatchPrepareResult, deadline: str | None
) -> bool:
    """Wait for the job's end, at most the first poll interval (and never past the attempt's deadline),
    where the executor signals it; elsewhere do not wait."""
    schedule = prepared.poll
    if schedule is None or not schedule.signaled or not isinstance(service, SignalsJobEnd):
        return False
    seconds = schedule.first_seconds
    if deadline is not None:
        seconds = min(seconds, (datetime.fromisoformat(deadline) - datetime.now(UTC)).total_seconds())
    if seconds <= 0 or prepared.job_id is None:
        return False
    ended = threading.Event()
    service.when_job_done(prepared.job_id, ended.set)
    return ended.wait(seconds)


@activity_with_client(bp, BATCH_CHECK)
def batch_check(inp: BatchCheckInput, client: str | None) -> BatchCheckResult:
    return check_attempt(inp, client)


def check_attempt(inp: BatchCheckInput, client: str | None) -> BatchCheckResult:
    """A poll of a one-command attempt; once it ended (or its deadline passed: `stop`), also its finish
    and its row, so the orchestrator needs no further call."""
    st = inp.fanout.model_copy(deep=True)
    if inp.stop == "timeout":
        st.timed_out = True
    elif st.job_id is not None and not (st.canceled or st.message):
        seen = poll(
            BatchPollInput(
                run_id=inp.run.control_id,
                job_id=st.job_id,
                signal_to=inp.signal_to,
                pool_ref=st.pool_ref,
                node_time=st.node_time,
            ),
            client,
        )
        st.polls += 1
        st.node_time = seen.node_time
        st.canceled = seen.canceled
        if not seen.canceled:
            st.counts = seen.model_dump(include={"active", "running", "completed", "succeeded", "failed"})
            st.work_start, st.work_end = seen.work_start, seen.work_end
            if not (seen.done and seen.completed >= st.count):
                return BatchCheckResult(fanout=st)
    finished = finish(
        BatchFinishInput(
            job_id=st.job_id,
            pool_ref=st.pool_ref,
            collect_failures=not st.canceled,
            log_prefix=inp.log_prefix,
            task_prefix=inp.run.task.key,
        )
    )
    st.phase = "finish"
    outcome = finished_outcome(st, finished, inp.started, datetime.now(UTC).isoformat())
    outcome.message = settled_message(outcome.message)
    write_task_rows(task_row(inp.run, outcome.state, inp.attempt, outcome))
    return BatchCheckResult(fanout=st, outcome=outcome)
