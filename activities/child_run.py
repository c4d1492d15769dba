"""Child-run activities: start the run a `run_job_task` / ExecutePipeline names, and look at it.

They take the Durable client: the child is an ordinary run (its own instance, signed like any trigger's),
and a cancel reaches it the way a user's does, as the run's cancel event.
"""

from __future__ import annotations

import azure.durable_functions as df

from jobclusters.execution.child_runs import ChildJobError, child_end, child_request, resolve
from jobclusters.execution.messages import (
    ChildRunPollInput,
    ChildRunPollResult,
    ChildRunStartInput,
    ChildRunStartResult,
)
from jobclusters.execution.registry import POLL_CHILD_RUN, START_CHILD_RUN, activity_with_client
from jobclusters.run_request import CANCEL_EVENT
from jobclusters.services import factory
from jobclusters.spec.model import RunJobPayload
from triggers.run_view import TERMINAL_RUNTIME, request_of
from triggers.starter import start_run, status_name

bp = df.Blueprint()


def _client(binding: str | None) -> df.DurableOrchestrationClient:
    if binding is None:
        raise RuntimeError("a child run needs the host's Durable client API, which this host does not serve")
    return df.DurableOrchestrationClient(binding)


@activity_with_client(bp, START_CHILD_RUN)
async def start_child_run(inp: ChildRunStartInput, binding: str | None) -> ChildRunStartResult:
    client = _client(binding)
    payload = inp.run.task.payload
    if not isinstance(payload, RunJobPayload):
        return ChildRunStartResult(error=f"task {inp.run.task.key!r} does not start a child run")
    parent = request_of(await client.get_status(inp.run.control_id, show_input=True))
    if parent is None:
        return ChildRunStartResult(error=f"the parent run {inp.run.control_id} has no readable request")
    if factory.get_control_store().cancel_requested(inp.run.control_id, fresh=True):
        return ChildRunStartResult(canceled=True)
    try:
        child = await resolve(payload.job_id, parent.base_dir, factory.get_job_definitions())
        request = child_request(parent, inp.run.task.key, inp.attempt_id, payload, child)
    except ChildJobError as exc:
        return ChildRunStartResult(error=str(exc))
    await start_run(client, request)
    return ChildRunStartResult(child_run_id=request.run_id, found_as=child.found_as)


@activity_with_client(bp, POLL_CHILD_RUN)
async def poll_child_run(inp: ChildRunPollInput, binding: str | None) -> ChildRunPollResult:
    """The child's end once it has one; until then, a stop of the parent (its cancel marker, or the task's
    timeout given as `stop_reason`) is passed on to the child once."""
    client = _client(binding)
    status = await client.get_status(inp.child_run_id)
    runtime = status_name(status)
    if runtime in TERMINAL_RUNTIME:
        end = child_end(inp.child_run_id, str(runtime), getattr(status, "output", None))
        return ChildRunPollResult(done=True, state=end.state, message=end.message, values=end.values)
    if inp.cancel_sent:
        return ChildRunPollResult(cancel_sent=True)
    reason = inp.stop_reason or factory.get_control_store().cancel_requested(inp.control_id, fresh=True)
    if not reason:
        return ChildRunPollResult()
    data = {"reason": reason, "actor": f"parent run {inp.control_id}"}
    await client.raise_event(inp.child_run_id, CANCEL_EVENT, data)
    return ChildRunPollResult(cancel_sent=True)
