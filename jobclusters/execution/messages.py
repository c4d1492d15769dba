"""Payloads between orchestrators and activities. Plain pydantic data that round-trips through JSON, small
(large lists travel as blob references) and free of secrets (secret references stay references)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

from jobclusters.execution.node_time import NodeTime
from jobclusters.execution.polling import PollSchedule
from jobclusters.failed_inputs import FailedInputs, InputSelection
from jobclusters.services.batch import PoolRef
from jobclusters.services.cluster import RunHandle
from jobclusters.spec.model import CommandPayload, FanOut, Job, JobCluster, Notifications, Task, TaskState


class _Msg(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ------------------------------------------------------------------ orchestrator inputs and outputs


class TaskRunInput(_Msg):
    """Input of `run_task`: one task of one run (or repair), already rendered by `run_job`."""

    run_id: str = Field(description="the tracked run (a repair tracks under the run it repairs)")
    control_id: str = Field(description="the run_job instance: cancel markers and remote handles key on it")
    job_id: str
    job_name: str
    task: Task
    job_cluster: JobCluster | None = None
    job_home: dict[str, Any] = Field(default_factory=dict, description="home-format job settings (poolInfo)")
    environment: dict[str, str] = Field(default_factory=dict)
    base_dir: str | None = None
    trigger_files: list[str] = Field(default_factory=list)
    tags: dict[str, str] = Field(default_factory=dict)
    repair_number: int = 0
    retries_done: int = Field(default=0, description="carried across continue_as_new")
    inline: InlineAttempt | None = Field(
        default=None, description="a one-command attempt run_task runs itself, carried across continue_as_new"
    )
    first_start: str | None = None
    rerun_inputs: InputSelection | None = Field(
        default=None, description="a repaired fan-out runs only these inputs (its failed ones)"
    )
    retry_after: TaskOutcome | None = Field(
        default=None,
        description="the attempt before (`retries_done` - 1) ended so, already recorded: wait, then retry",
    )
    pool_owner: str | None = Field(
        default=None,
        description="the instance owning the task's on-demand pools, when not `run_task` (a quick start's)",
    )


class ClusterPollState(_Msg):
    handle: RunHandle
    interval: float | None = None
    polls: int = 0
    compute: str | None = None
    compute_info: dict[str, Any] | None = None
    work_start: str | None = None
    poll: PollSchedule | None = None


class FanoutState(_Msg):
    phase: Literal["plan", "pool", "add", "poll", "finish"] = "plan"
    count: int = 0
    manifest: str | None = None
    indexes: str | None = None
    pool_ref: PoolRef | None = None
    job_id: str | None = None
    compute: str | None = None
    compute_info: dict[str, Any] | None = None
    interval: float | None = None
    polls: int = 0
    message: str | None = None
    timed_out: bool = False
    canceled: bool = False
    counts: dict[str, int] = Field(default_factory=dict)
    work_start: str | None = None
    work_end: str | None = None
    job_files: str | None = None
    poll: PollSchedule | None = None
    node_time: NodeTime | None = Field(default=None, description="the pool's node count seen by the polls")


class AttemptInput(_Msg):
    """Input of `cluster_run` and `batch_fanout`: one attempt, plus the state carried by continue_as_new."""

    run: TaskRunInput
    attempt: int
    instance_id: str
    deadline: str | None = None
    started: str | None = None
    cluster: ClusterPollState | None = None
    fanout: FanoutState | None = None
    child: ChildRunState | None = None


class TaskOutcome(_Msg):
    """What a task (or one attempt) ended with; `run_job` keeps these for templating and the record."""

    state: TaskState
    attempts: int = 1
    message: str | None = None
    start: str | None = None
    end: str | None = None
    compute: str | None = None
    compute_info: dict[str, Any] | None = None
    outcome: str | None = Field(default=None, description="a condition task's 'true' / 'false'")
    task_values: dict[str, Any] = Field(default_factory=dict)
    log_ref: str | None = None
    log_refs: dict[str, str] = Field(
        default_factory=dict, description="named log links (Batch: stdout.txt, stderr.txt, all tasks)"
    )
    remote_id: str | None = None
    queue_seconds: float | None = Field(
        default=None, description="from submit to the work's own start: queue, pool or cluster start"
    )
    exit_code: int | None = Field(default=None, description="a command's; a fan-out's first failed input's")
    details: dict[str, Any] = Field(default_factory=dict)
    failed_inputs: FailedInputs | None = None
    child_run_id: str | None = Field(default=None, description="the run a run_job / ExecutePipeline started")


# ------------------------------------------------------------------ activity payloads: runs


class RunRecordInput(_Msg):
    """`run_id` is the tracked run: a repair writes to the run it repairs, one generation up."""

    run_id: str
    job_id: str
    state: str
    generation: int = 0
    created_at: str
    trigger: dict[str, Any] = Field(default_factory=dict)
    parameters: dict[str, Any] = Field(default_factory=dict)
    start: str | None = None
    end: str | None = None
    message: str | None = None
    compute: list[dict[str, Any]] = Field(default_factory=list)
    tags: dict[str, str] = Field(default_factory=dict, description="the job's tags: costs by tag")


class TaskRecordInput(_Msg):
    run_id: str
    task_key: str
    state: TaskState
    attempt: int = Field(default=1, ge=1)
    generation: int = 0
    start: str | None = None
    end: str | None = None
    message: str | None = None
    compute_info: dict[str, Any] | None = None
    log_ref: str | None = None
    log_refs: dict[str, str] = Field(default_factory=dict)
    remote_id: str | None = None
    queue_seconds: float | None = None
    exit_code: int | None = None
    parameters: dict[str, Any] = Field(default_factory=dict)
    output: Any = None
    secure_input: bool = False
    secure_output: bool = False
    child_run_id: str | None = None


class TaskRecordBatch(_Msg):
    rows: list[TaskRecordInput]


class SlotInput(_Msg):
    job_id: str
    run_id: str
    max_concurrent_runs: int = Field(ge=1, description="a job without a limit claims no slot")


class SlotResult(_Msg):
    claimed: bool
    slot: int | None = None
    holders: list[str] = Field(default_factory=list)


class RunAdmissionInput(_Msg):
    """A `run_job` request as received (checked as data: it may be forged) and its trigger's signature."""

    request: dict[str, Any]
    signature: str | None = None


class SettingsCheckInput(_Msg):
    job: Job


class SettingsCheckResult(_Msg):
    blocked: dict[str, str] = Field(
        default_factory=dict, description="task key -> one-line reason naming the missing setting"
    )


class CancelRunInput(_Msg):
    run_id: str
    reason: str = "canceled"


NotifyEvent = Literal["start", "success", "failure", "duration_exceeded"]


class NotifyInput(_Msg):
    run_id: str
    job_id: str
    job_name: str
    event: NotifyEvent
    notifications: Notifications
    result: str | None = None
    message: str | None = None
    at: str
    tasks: dict[str, str] = Field(default_factory=dict)


class NotifyResult(_Msg):
    webhooks_sent: int = 0
    webhooks_failed: int = 0
    topic_sent: bool = False


# ------------------------------------------------------------------ activity payloads: clusters


class ClusterSubmitInput(_Msg):
    run: TaskRunInput
    attempt_id: str
    idempotency_key: str
    signal_to: str | None = Field(default=None, description="the instance to wake when the work ends")


class _PollWhenSet(_Msg):
    """A result that carries a poll schedule only when the work has one (an unset one is left out, so the
    result reads as it did before schedules were settings)."""

    @model_serializer(mode="wrap")
    def _without_unset_poll(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if data.get("poll", 0) is None:
            del data["poll"]
        return data


class ClusterSubmitResult(_PollWhenSet):
    handle: RunHandle | None = None
    canceled: bool = False
    error: str | None = None
    compute: str | None = None
    compute_info: dict[str, Any] | None = None
    poll: PollSchedule | None = Field(default=None, description="the poll schedule of this work (settings)")


class ClusterHandleInput(_Msg):
    run_id: str
    attempt_id: str
    task_key: str = ""
    handle: RunHandle
    signal_to: str | None = Field(default=None, description="the instance to wake when the work ends")


class ClusterPollResult(_Msg):
    terminal: bool
    state: TaskState | None = None
    message: str = ""
    canceled: bool = False
    cluster: str | None = None
    work_start: str | None = Field(default=None, description="the remote run's own start (not the poll's)")
    work_end: str | None = None


class ClusterFinishResult(_Msg):
    error: str | None = None
    task_values: dict[str, Any] = Field(default_factory=dict)
    log_ref: str | None = None
    measured: dict[str, Any] = Field(default_factory=dict, description="node time from the cluster's events")


# ------------------------------------------------------------------ activity payloads: Batch


class PlanInputsInput(_Msg):
    attempt_id: str
    fan_out: FanOut | None = None
    trigger_files: list[str] = Field(default_factory=list)
    only: InputSelection | None = Field(default=None, description="plan only these inputs (a repair)")


class PlanInputsResult(_Msg):
    count: int
    manifest: str = Field(description="blob reference of the JSON list of inputs")
    indexes: str | None = Field(
        default=None, description="blob reference of each planned input's index, when only some were planned"
    )


class BatchPrepareInput(_Msg):
    run: TaskRunInput
    attempt_id: str
    owner: str | None = Field(
        default=None,
        description="the instance whose end frees the pool (the sweeper's test); None: the attempt instance",
    )


class BatchPrepareResult(_PollWhenSet):
    pool_ref: PoolRef | None = None
    job_id: str | None = None
    compute: str | None = None
    compute_info: dict[str, Any] | None = None
    canceled: bool = False
    error: str | None = None
    job_files: str | None = Field(default=None, description="container of the staged job folder")
    poll: PollSchedule | None = Field(default=None, description="the poll schedule of this work (settings)")


class AddChunkInput(_Msg):
    run_id: str
    job_id: str
    task_prefix: str
    payload: CommandPayload
    manifest: str
    start: int
    end: int
    environment: dict[str, str] = Field(default_factory=dict)
    job_files: str | None = Field(default=None, description="container of the staged job folder")
    max_task_retries: int = 0
    log_prefix: str | None = Field(default=None, description="blob folder of the tasks' uploaded logs")
    indexes: str | None = Field(default=None, description="as planned: the inputs' own indexes")
    signal_to: str | None = Field(default=None, description="the instance to wake when the work ends")


class AddChunkResult(_Msg):
    added: int
    failed: list[dict[str, str]] = Field(default_factory=list)
    canceled: bool = False


class BatchPollInput(_Msg):
    run_id: str
    job_id: str
    signal_to: str | None = Field(default=None, description="the instance to wake when the work ends")
    pool_ref: PoolRef | None = Field(default=None, description="a pool made for the attempt: count its nodes")
    node_time: NodeTime | None = None


class BatchPollResult(_Msg):
    active: int = 0
    running: int = 0
    completed: int = 0
    succeeded: int = 0
    failed: int = 0
    canceled: bool = False
    work_start: str | None = Field(default=None, description="once done: the first task's own start")
    work_end: str | None = Field(default=None, description="once done: the last task's own end")
    node_time: NodeTime | None = Field(default=None, description="the input's, with this poll's node count")

    @property
    def done(self) -> bool:
        return self.active == 0 and self.running == 0


class BatchFinishInput(_Msg):
    job_id: str | None = None
    pool_ref: PoolRef | None = None
    collect_failures: bool = True
    log_prefix: str | None = Field(default=None, description="as given to batch_add_chunk")
    task_prefix: str | None = Field(default=None, description="Batch task id prefix: names task 0's logs")
    manifest: str | None = Field(default=None, description="as planned: names each failed task's input")
    indexes: str | None = None


class BatchFinishResult(_Msg):
    failed_tasks: list[dict[str, Any]] = Field(
        default_factory=list, description="`FailedInput`s, the first few"
    )
    failed_count: int = 0
    failed_ref: str | None = Field(
        default=None, description="blob reference of all of them, when not all listed"
    )
    pool_deleted: bool = False
    log_refs: dict[str, str] = Field(
        default_factory=dict, description="uploaded logs of the first failed task, else of the first task"
    )


class InlineAttempt(_Msg):
    """A one-command Batch attempt that `run_task` runs itself (no sub-orchestration), between polls."""

    attempt: int
    started: str
    deadline: str | None = None
    fanout: FanoutState


class BatchStartInput(_Msg):
    """Record the attempt's RUNNING row, prepare the pool and job, add the one task and, where the executor
    signals, make the first poll once the task ended (or the first interval passed): one activity."""

    run: TaskRunInput
    attempt_id: str
    owner: str = Field(description="the instance running the attempt: its end frees the pool")
    row: TaskRecordBatch
    log_prefix: str
    signal_to: str | None = None
    attempt: int = 0
    started: str = ""
    deadline: str | None = Field(default=None, description="the attempt's timeout: the first poll is before")


class BatchStartResult(_Msg):
    prepare: BatchPrepareResult
    add_error: str | None = Field(default=None, description="why the task could not be added")
    checked: BatchCheckResult | None = Field(
        default=None, description="the first poll, made here because the task ended within the first interval"
    )


class BatchCheckInput(_Msg):
    """Poll a one-command attempt; once it ended (or `stop`), finish it and record its row: one activity."""

    run: TaskRunInput
    attempt: int
    started: str
    fanout: FanoutState
    log_prefix: str
    stop: Literal["timeout"] | None = None
    signal_to: str | None = None


class BatchCheckResult(_Msg):
    fanout: FanoutState
    outcome: TaskOutcome | None = Field(default=None, description="once ended: its outcome, already recorded")


# ------------------------------------------------------------------ child runs (run_job / ExecutePipeline)


class ChildRunState(_Msg):
    """What `child_run` carries across continue_as_new while it watches its child."""

    child_run_id: str
    interval: float | None = None
    polls: int = 0
    cancel_sent: bool = False


class ChildRunStartInput(_Msg):
    run: TaskRunInput
    attempt_id: str


class ChildRunStartResult(_Msg):
    child_run_id: str | None = None
    error: str | None = Field(default=None, description="why no child started: unknown job, a cycle, ...")
    canceled: bool = False
    found_as: str | None = None


class ChildRunPollInput(_Msg):
    child_run_id: str
    control_id: str = Field(description="the parent run whose cancel marker stops the child")
    stop_reason: str | None = Field(default=None, description="set: cancel the child now (task timed out)")
    cancel_sent: bool = False


class ChildRunPollResult(_Msg):
    done: bool = False
    state: TaskState | None = None
    message: str | None = None
    values: dict[str, Any] = Field(default_factory=dict)
    cancel_sent: bool = False


# ------------------------------------------------------------------ data activities: Web, GetMetadata, Lookup


class DataActivityInput(_Msg):
    run: TaskRunInput


class DataActivityResult(_Msg):
    state: TaskState
    output: dict[str, Any] = Field(default_factory=dict)
    message: str | None = None


TaskRunInput.model_rebuild()
AttemptInput.model_rebuild()
BatchStartResult.model_rebuild()
