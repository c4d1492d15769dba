"""Every activity and sub-orchestration by durable name, with the model of its input and of its result.

Orchestrators call through these specs and activities register through them, so a name is spelled once
and neither side ever sees a bare dict. The names are durable: the Functions host (devhost or Azure) and
every recorded history find a function by name, so a name here never changes.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, TypeAdapter

from jobclusters.arrivals.models import ClaimInput, ClaimResult, PendingInput, PendingResult
from jobclusters.execution.control_messages import (
    BlockInput,
    BlockResult,
    CancelCheckInput,
    CancelForwardInput,
    ChunkInput,
    ChunkResult,
    ForEachInput,
    UntilInput,
)
from jobclusters.execution.messages import (
    AddChunkInput,
    AddChunkResult,
    AttemptInput,
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
    CancelRunInput,
    ChildRunPollInput,
    ChildRunPollResult,
    ChildRunStartInput,
    ChildRunStartResult,
    ClusterFinishResult,
    ClusterHandleInput,
    ClusterPollResult,
    ClusterSubmitInput,
    ClusterSubmitResult,
    DataActivityInput,
    DataActivityResult,
    NotifyInput,
    NotifyResult,
    PlanInputsInput,
    PlanInputsResult,
    RunAdmissionInput,
    RunRecordInput,
    SettingsCheckInput,
    SettingsCheckResult,
    SlotInput,
    SlotResult,
    TaskOutcome,
    TaskRecordBatch,
    TaskRunInput,
)

In = TypeVar("In", bound=BaseModel)
Out = TypeVar("Out")


@dataclass(frozen=True)
class _Spec(Generic[In, Out]):
    name: str
    input: type[In]
    result: type[Out]

    def parse_input(self, raw: Any) -> In:
        return self.input.model_validate(raw)

    def dump_input(self, value: In) -> dict[str, Any]:
        if not isinstance(value, self.input):
            raise TypeError(f"{self.name} takes {self.input.__name__}, not {type(value).__name__}")
        return value.model_dump(mode="json")

    @functools.cached_property
    def _result_adapter(self) -> TypeAdapter[Out]:
        return TypeAdapter(self.result)

    def read(self, raw: Any) -> Out:
        """A completed call's result (JSON from the history) as the result model."""
        return self._result_adapter.validate_python(raw)

    def dump_result(self, value: Out) -> Any:
        return self._result_adapter.dump_python(value, mode="json")


@dataclass(frozen=True)
class ActivitySpec(_Spec[In, Out]):
    pass


@dataclass(frozen=True)
class OrchestratorSpec(_Spec[In, Out]):
    pass


# ------------------------------------------------------------------ activities: runs

CLAIM_RUN_SLOT = ActivitySpec("claim_run_slot", SlotInput, SlotResult)
RELEASE_RUN_SLOT = ActivitySpec("release_run_slot", SlotInput, bool)
REQUEST_RUN_CANCEL = ActivitySpec("request_run_cancel", CancelRunInput, int)
RECORD_RUN = ActivitySpec("record_run", RunRecordInput, str)
RECORD_TASK_RUNS = ActivitySpec("record_task_runs", TaskRecordBatch, int)
NOTIFY_RUN = ActivitySpec("notify_run", NotifyInput, NotifyResult)
CHECK_JOB_SETTINGS = ActivitySpec("check_job_settings", SettingsCheckInput, SettingsCheckResult)
CHECK_RUN_REQUEST: ActivitySpec[RunAdmissionInput, list[str]] = ActivitySpec(
    "check_run_request",
    RunAdmissionInput,
    list,  # the problems; empty when the request may run
)

# ------------------------------------------------------------------ activities: blob arrivals

PENDING_ARRIVALS = ActivitySpec("pending_arrivals", PendingInput, PendingResult)
CLAIM_ARRIVALS = ActivitySpec("claim_arrivals", ClaimInput, ClaimResult)

# ------------------------------------------------------------------ activities: clusters

CLUSTER_SUBMIT = ActivitySpec("cluster_submit", ClusterSubmitInput, ClusterSubmitResult)
CLUSTER_POLL = ActivitySpec("cluster_poll", ClusterHandleInput, ClusterPollResult)
CLUSTER_FINISH = ActivitySpec("cluster_finish", ClusterHandleInput, ClusterFinishResult)
CLUSTER_CANCEL = ActivitySpec("cluster_cancel", ClusterHandleInput, bool)

# ------------------------------------------------------------------ activities: Batch

PLAN_INPUTS = ActivitySpec("plan_inputs", PlanInputsInput, PlanInputsResult)
BATCH_PREPARE = ActivitySpec("batch_prepare", BatchPrepareInput, BatchPrepareResult)
BATCH_ADD_CHUNK = ActivitySpec("batch_add_chunk", AddChunkInput, AddChunkResult)
BATCH_POLL = ActivitySpec("batch_poll", BatchPollInput, BatchPollResult)
BATCH_FINISH = ActivitySpec("batch_finish", BatchFinishInput, BatchFinishResult)
BATCH_START = ActivitySpec("batch_start", BatchStartInput, BatchStartResult)
BATCH_CHECK = ActivitySpec("batch_check", BatchCheckInput, BatchCheckResult)

# ------------------------------------------------------------------ activities: child runs

START_CHILD_RUN = ActivitySpec("start_child_run", ChildRunStartInput, ChildRunStartResult)
POLL_CHILD_RUN = ActivitySpec("poll_child_run", ChildRunPollInput, ChildRunPollResult)
CANCEL_REQUESTED: ActivitySpec[CancelCheckInput, str | None] = ActivitySpec(
    "cancel_requested",
    CancelCheckInput,
    str | None,  # type: ignore[arg-type]
)
FORWARD_CANCEL = ActivitySpec("forward_cancel", CancelForwardInput, int)
RUN_DATA_ACTIVITY = ActivitySpec("run_data_activity", DataActivityInput, DataActivityResult)

# ------------------------------------------------------------------ sub-orchestrations

RUN_TASK = OrchestratorSpec("run_task", TaskRunInput, TaskOutcome)
CLUSTER_RUN = OrchestratorSpec("cluster_run", AttemptInput, TaskOutcome)
BATCH_FANOUT = OrchestratorSpec("batch_fanout", AttemptInput, TaskOutcome)
CHILD_RUN = OrchestratorSpec("child_run", AttemptInput, TaskOutcome)
DATA_ACTIVITY = OrchestratorSpec("data_activity", AttemptInput, TaskOutcome)
FOR_EACH = OrchestratorSpec("for_each", ForEachInput, TaskOutcome)
FOR_EACH_CHUNK = OrchestratorSpec("for_each_chunk", ChunkInput, ChunkResult)
RUN_BLOCK = OrchestratorSpec("run_block", BlockInput, BlockResult)
UNTIL = OrchestratorSpec("until", UntilInput, TaskOutcome)

ACTIVITIES: tuple[ActivitySpec[Any, Any], ...] = (
    CLAIM_RUN_SLOT,
    RELEASE_RUN_SLOT,
    REQUEST_RUN_CANCEL,
    RECORD_RUN,
    RECORD_TASK_RUNS,
    NOTIFY_RUN,
    CLUSTER_SUBMIT,
    CLUSTER_POLL,
    CLUSTER_FINISH,
    CLUSTER_CANCEL,
    PLAN_INPUTS,
    BATCH_PREPARE,
    BATCH_ADD_CHUNK,
    BATCH_POLL,
    BATCH_FINISH,
    CHECK_JOB_SETTINGS,
    CHECK_RUN_REQUEST,
    PENDING_ARRIVALS,
    CLAIM_ARRIVALS,
    BATCH_START,
    BATCH_CHECK,
    START_CHILD_RUN,
    POLL_CHILD_RUN,
    RUN_DATA_ACTIVITY,
    CANCEL_REQUESTED,
    FORWARD_CANCEL,
)
SUB_ORCHESTRATORS: tuple[OrchestratorSpec[Any, Any], ...] = (
    RUN_TASK,
    CLUSTER_RUN,
    BATCH_FANOUT,
    CHILD_RUN,
    DATA_ACTIVITY,
    FOR_EACH,
    FOR_EACH_CHUNK,
    RUN_BLOCK,
    UNTIL,
)


def _named(handler: Callable[..., Any], spec: ActivitySpec[Any, Any], body: Callable[..., Any]) -> Any:
    """The host finds an activity by its function's name: the handler takes the spec's name and the
    body's docstring and module."""
    handler.__name__ = handler.__qualname__ = spec.name
    handler.__doc__ = body.__doc__
    handler.__module__ = body.__module__
    return handler


def activity(bp: Any, spec: ActivitySpec[In, Out]) -> Callable[[Callable[[In], Out]], Any]:
    """Register `body` on the blueprint `bp` as the activity `spec.name`: the host hands it the JSON
    payload, `body` sees the input model and returns the result model, the host gets JSON back."""

    def register(body: Callable[[In], Out]) -> Any:
        def handler(payload: dict[str, Any]) -> Any:
            return spec.dump_result(body(spec.parse_input(payload)))

        return bp.activity_trigger(input_name="payload")(_named(handler, spec, body))

    return register


def activity_with_client(bp: Any, spec: ActivitySpec[In, Out]) -> Callable[[Callable[..., Any]], Any]:
    """`activity`, with the durable client binding the host gives any function (its JSON text, None where
    the host serves no Durable HTTP API): `body(input_model, client_json)`, plain or async. For an activity
    that starts or signals another instance, or arranges for an event to be raised later."""

    def register(body: Callable[..., Any]) -> Any:
        handler: Callable[..., Any]
        if inspect.iscoroutinefunction(body):

            async def handler(payload: dict[str, Any], client: str | None = None) -> Any:
                return spec.dump_result(await body(spec.parse_input(payload), client))

        else:

            def handler(payload: dict[str, Any], client: str | None = None) -> Any:
                return spec.dump_result(body(spec.parse_input(payload), client))

        triggered = bp.activity_trigger(input_name="payload")(_named(handler, spec, body))
        return bp.generic_input_binding(arg_name="client", type="durableClient")(triggered)

    return register
