"""`batch_fanout`: one attempt of a `command` task on Batch, one Batch task per input.

Phases (kept in `FanoutState`, so continue_as_new can resume any of them): plan the inputs (a blob
manifest), prepare the pool and job, add tasks in parallel chunk activities, poll task counts with a
growing interval, finish (failed tasks with exit codes and log links, job terminated, an on-demand pool
deleted). The history restarts after adding tasks and every `POLLS_PER_EXECUTION` polls.
The attempt records its tasks' own times (first start to last end), not when the polls saw them.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import azure.durable_functions as df

from jobclusters.execution import registry
from jobclusters.execution.batch_logs import log_prefix
from jobclusters.execution.batch_mapping import chunk_ranges
from jobclusters.execution.fanout_outcome import early_outcome, failed_inputs, final_outcome, finished_outcome
from jobclusters.execution.messages import (
    AddChunkInput,
    BatchFinishInput,
    BatchPollInput,
    BatchPrepareInput,
    FanoutState,
    PlanInputsInput,
    TaskOutcome,
)
from jobclusters.execution.polling import BATCH_POLL, POLLS_PER_EXECUTION, past
from jobclusters.execution.routing import per_input_retries
from jobclusters.spec.model import CommandPayload, TaskState
from orchestrators.common import call_store, decode_input, dump, failure_message, iso, parse_iso, result_of
from orchestrators.wait_for_work import signal_to, wait_for_work

bp = df.Blueprint()

__all__ = ["batch_fanout", "failed_inputs", "final_outcome"]


@bp.orchestration_trigger(context_name="context")
def batch_fanout(context: df.DurableOrchestrationContext) -> Generator[Any, Any, dict[str, Any]]:
    a = decode_input(context, registry.BATCH_FANOUT.input)
    run = a.run
    payload = run.task.payload
    if not isinstance(payload, CommandPayload):
        return dump(TaskOutcome(state=TaskState.FAILED, message="batch_fanout runs command payloads only"))
    if a.started is None:
        a.started = iso(context.current_utc_datetime)
    deadline = parse_iso(a.deadline)
    st = a.fanout or FanoutState()
    logs_at = log_prefix(run.control_id, run.task.key, a.attempt + 1)
    schedule = st.poll or BATCH_POLL

    def outcome(state: TaskState, message: str | None, **fields: Any) -> dict[str, Any]:
        assert a.started is not None
        now = iso(context.current_utc_datetime)
        return dump(early_outcome(st, a.started, now, state, message, **fields))

    if st.phase == "plan":
        plan_input = PlanInputsInput(
            attempt_id=a.instance_id,
            fan_out=payload.fan_out,
            trigger_files=run.trigger_files,
            only=run.rerun_inputs,
        )
        try:
            plan = yield from result_of(context, registry.PLAN_INPUTS, plan_input)
        except Exception as exc:
            return outcome(TaskState.FAILED, f"the inputs could not be listed: {failure_message(exc)}")
        st.count, st.manifest, st.indexes = plan.count, plan.manifest, plan.indexes
        if st.count == 0:
            return outcome(TaskState.SUCCESS, "no inputs matched: nothing to run", details={"inputs": 0})
        st.phase = "pool"

    if st.phase == "pool":
        try:
            prep = yield from result_of(
                context, registry.BATCH_PREPARE, BatchPrepareInput(run=run, attempt_id=a.instance_id)
            )
        except Exception as exc:
            return outcome(TaskState.FAILED, f"the pool or job could not be prepared: {failure_message(exc)}")
        if prep.error is not None:
            return outcome(TaskState.FAILED, prep.error)
        st.pool_ref, st.job_id, st.compute, st.compute_info = (
            prep.pool_ref,
            prep.job_id,
            prep.compute,
            prep.compute_info,
        )
        st.canceled = prep.canceled
        st.job_files = prep.job_files
        st.poll = prep.poll
        st.phase = "finish" if prep.canceled else "add"

    if st.phase == "add":
        assert st.job_id is not None and st.manifest is not None
        calls = [
            call_store(
                context,
                registry.BATCH_ADD_CHUNK,
                AddChunkInput(
                    run_id=run.control_id,
                    job_id=st.job_id,
                    task_prefix=run.task.key,
                    payload=payload,
                    manifest=st.manifest,
                    start=start,
                    end=end,
                    environment=run.environment,
                    job_files=st.job_files,
                    max_task_retries=per_input_retries(run.task),
                    log_prefix=logs_at,
                    indexes=st.indexes,
                    signal_to=signal_to(context, st.poll or BATCH_POLL),
                ),
            )
            for start, end in chunk_ranges(st.count)
        ]
        try:
            results = [registry.BATCH_ADD_CHUNK.read(r) for r in (yield context.task_all(calls))]
        except Exception as exc:
            st.message = f"tasks could not be added: {failure_message(exc)}"
            results = []
        failures = [f for r in results for f in r.failed]
        if any(r.canceled for r in results):
            st.canceled = True
        elif failures:
            first = failures[0]
            st.message = (
                f"{len(failures)} task(s) could not be added; first {first['task_id']}: {first['code']}"
            )
        st.phase = "finish" if (st.canceled or st.message) else "poll"
        context.continue_as_new(dump(a.model_copy(update={"fanout": st})))
        return {}

    if st.phase == "poll":
        assert st.job_id is not None
        while True:
            now = context.current_utc_datetime
            if not past(deadline, now):
                interval = schedule.next_interval(st.interval)
                yield from wait_for_work(context, schedule, interval, deadline)
                st.interval = interval
            if past(deadline, context.current_utc_datetime):
                st.timed_out = True
                break
            try:
                poll = yield from result_of(
                    context,
                    registry.BATCH_POLL,
                    BatchPollInput(
                        run_id=run.control_id,
                        job_id=st.job_id,
                        signal_to=signal_to(context, schedule),
                        pool_ref=st.pool_ref,
                        node_time=st.node_time,
                    ),
                )
            except Exception as exc:  # an outage past the bound: still terminate the job, delete the pool
                st.message = f"the Batch job could not be polled: {failure_message(exc)}"
                break
            st.polls += 1
            st.node_time = poll.node_time
            if poll.canceled:
                st.canceled = True
                break
            st.counts = poll.model_dump(include={"active", "running", "completed", "succeeded", "failed"})
            st.work_start, st.work_end = poll.work_start, poll.work_end
            context.set_custom_status({"inputs": st.count, **st.counts})
            if poll.done and poll.completed >= st.count:
                break
            if st.polls % POLLS_PER_EXECUTION == 0:
                context.continue_as_new(dump(a.model_copy(update={"fanout": st})))
                return {}
        st.phase = "finish"

    finish = yield from result_of(
        context,
        registry.BATCH_FINISH,
        BatchFinishInput(
            job_id=st.job_id,
            pool_ref=st.pool_ref,
            collect_failures=not st.canceled,
            log_prefix=logs_at if st.job_id is not None else None,
            task_prefix=run.task.key,
            manifest=st.manifest,
            indexes=st.indexes,
        ),
    )
    assert a.started is not None
    return dump(finished_outcome(st, finish, a.started, iso(context.current_utc_datetime)))
