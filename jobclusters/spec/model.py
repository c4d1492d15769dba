"""The one typed job model every importer produces and every orchestrator consumes.

A `Job` is plain data: it survives `Job.model_validate(job.model_dump(mode="json"))`, so it can travel as
a durable orchestration input. Task keys are the home format's keys (Databricks `task_key`, ADF activity
`name`, Batch task `id`) so users recognise them in runs and on the command line. Secrets stay references
(`{{secrets/scope/key}}`, `@Microsoft.KeyVault(...)`, `%APP_SETTING%`); nothing here resolves them.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class TaskState(StrEnum):
    """Life cycle of one task in one run; names follow the Databricks run page."""

    PENDING = "PENDING"
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    WAITING_FOR_RETRY = "WAITING_FOR_RETRY"
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"
    TIMEDOUT = "TIMEDOUT"
    CANCELED = "CANCELED"
    EXCLUDED = "EXCLUDED"
    UPSTREAM_FAILED = "UPSTREAM_FAILED"
    UPSTREAM_CANCELED = "UPSTREAM_CANCELED"
    SKIPPED = "SKIPPED"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATES


TERMINAL_STATES = frozenset(
    {
        TaskState.SUCCESS,
        TaskState.FAILED,
        TaskState.TIMEDOUT,
        TaskState.CANCELED,
        TaskState.EXCLUDED,
        TaskState.UPSTREAM_FAILED,
        TaskState.UPSTREAM_CANCELED,
        TaskState.SKIPPED,
    }
)


class RunResult(StrEnum):
    """Databricks `result_state` values of a whole run.

    SKIPPED is a run that never started because `max_concurrent_runs` runs of its job were active and the
    job has no queue: it is not a cancel (nobody asked) and not a success (nothing ran).
    """

    SUCCESS = "SUCCESS"
    SUCCESS_WITH_FAILURES = "SUCCESS_WITH_FAILURES"
    FAILED = "FAILED"
    TIMEDOUT = "TIMEDOUT"
    CANCELED = "CANCELED"
    SKIPPED = "SKIPPED"


class RunIf(StrEnum):
    ALL_SUCCESS = "ALL_SUCCESS"
    AT_LEAST_ONE_SUCCESS = "AT_LEAST_ONE_SUCCESS"
    NONE_FAILED = "NONE_FAILED"
    ALL_DONE = "ALL_DONE"
    AT_LEAST_ONE_FAILED = "AT_LEAST_ONE_FAILED"
    ALL_FAILED = "ALL_FAILED"


class DependencyCondition(StrEnum):
    """ADF `dependencyConditions` values."""

    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    SKIPPED = "Skipped"
    COMPLETED = "Completed"


class EngineRules(StrEnum):
    """Whose rules decide skipped tasks and the run result."""

    DATABRICKS = "databricks"
    ADF = "adf"


class ComputeMode(StrEnum):
    """How a task's compute behaves. A compute carries a list: the life-cycle mode first
    (on_demand_job_cluster | shared_job_cluster | existing_cluster | serverless), then traits."""

    ON_DEMAND_JOB_CLUSTER = "on_demand_job_cluster"
    SHARED_JOB_CLUSTER = "shared_job_cluster"
    EXISTING_CLUSTER = "existing_cluster"
    SERVERLESS = "serverless"
    SINGLE_NODE = "single_node"
    AUTOSCALE = "autoscale"
    SPOT_WITH_FALLBACK = "spot_with_fallback"
    SPOT = "spot"
    HIGH_CONCURRENCY = "high_concurrency"


LIFECYCLE_MODES = (
    ComputeMode.ON_DEMAND_JOB_CLUSTER,
    ComputeMode.SHARED_JOB_CLUSTER,
    ComputeMode.EXISTING_CLUSTER,
    ComputeMode.SERVERLESS,
)


# ---------------------------------------------------------------- dependencies, retry, notifications


class Dependency(_Model):
    """`outcome` is a condition task's branch ("true"/"false"), or an ADF If/Switch selector's branch
    ("true"/"false", a case value, "default"); `conditions` are ADF's (OR within one)."""

    task_key: str
    outcome: str | None = None
    conditions: list[DependencyCondition] | None = None


class RetryPolicy(_Model):
    max_retries: int = Field(default=0, ge=-1, description="-1 retries forever")
    min_retry_interval_millis: int = Field(default=0, ge=0)
    retry_on_timeout: bool = False
    backoff: Literal["fixed", "exponential"] = "fixed"
    backoff_multiplier: float = Field(default=2.0, ge=1.0)
    max_retry_interval_millis: int | None = Field(default=None, ge=0)


class NotificationTarget(_Model):
    kind: Literal["email", "webhook"]
    address: str = Field(description="an e-mail address, or a webhook id / URL")


class Notifications(_Model):
    on_start: list[NotificationTarget] = Field(default_factory=list)
    on_success: list[NotificationTarget] = Field(default_factory=list)
    on_failure: list[NotificationTarget] = Field(default_factory=list)
    on_duration_warning_threshold_exceeded: list[NotificationTarget] = Field(default_factory=list)

    def is_empty(self) -> bool:
        return not (
            self.on_start or self.on_success or self.on_failure or self.on_duration_warning_threshold_exceeded
        )


class HealthRule(_Model):
    metric: str = "RUN_DURATION_SECONDS"
    op: Literal["GREATER_THAN"] = "GREATER_THAN"
    value: int


class Library(_Model):
    kind: Literal["pypi", "maven", "jar", "whl", "egg", "cran", "requirements", "other"]
    value: str = Field(description="package spec, coordinates or file URI")
    repo: str | None = None
    exclusions: list[str] = Field(default_factory=list)


# ---------------------------------------------------------------- compute


class Autoscale(_Model):
    min_workers: int = Field(default=0, ge=0)
    max_workers: int | None = Field(default=None, ge=0, description="None: bounded by a formula only")
    formula: str | None = Field(
        default=None, description="Batch autoScaleFormula, when the pool scales by formula"
    )


class SpotPolicy(_Model):
    on_demand_nodes: int = Field(default=0, ge=0, description="first_on_demand / dedicated nodes")
    fallback_to_on_demand: bool = False
    max_price: float | None = None


class ClusterSpec(_Model):
    """A cluster or pool definition, normalised; `home` keeps the home-format spec for the service."""

    platform: Literal["databricks", "batch", "hdinsight", "synapse", "local"] = "databricks"
    name: str | None = None
    runtime: str | None = Field(
        default=None, description="spark_version / image / clusterVersion / sparkVersion"
    )
    node_type: str | None = None
    driver_node_type: str | None = None
    num_workers: int | None = Field(default=None, ge=0)
    autoscale: Autoscale | None = None
    spot: SpotPolicy | None = None
    spark_conf: dict[str, str] = Field(default_factory=dict)
    env: dict[str, str] = Field(default_factory=dict)
    tags: dict[str, str] = Field(default_factory=dict)
    init_scripts: list[str] = Field(default_factory=list)
    security_mode: str | None = None
    auto_termination_minutes: int | None = None
    instance_pool_id: str | None = None
    home: dict[str, Any] = Field(default_factory=dict)
    source_path: str | None = Field(default=None, description="JSON path of the definition in the source")


class JobCluster(_Model):
    key: str
    cluster: ClusterSpec


class Compute(_Model):
    """Exactly one way a task gets compute. `modes` is derived by the job (see `cluster_mode`)."""

    kind: Literal["new_cluster", "job_cluster", "existing_cluster", "pool", "serverless"]
    cluster: ClusterSpec | None = None
    job_cluster_key: str | None = None
    cluster_id: str | None = Field(default=None, description="existing cluster id, or pool / Spark pool name")
    modes: list[ComputeMode] = Field(default_factory=list)


# ---------------------------------------------------------------- payloads


class NotebookPayload(_Model):
    kind: Literal["notebook"] = "notebook"
    path: str
    base_parameters: dict[str, Any] = Field(default_factory=dict)
    source: str | None = None
    spark_conf: dict[str, Any] = Field(default_factory=dict)


class SparkPythonPayload(_Model):
    kind: Literal["spark_python"] = "spark_python"
    python_file: str
    parameters: list[str] = Field(default_factory=list)


class PythonWheelPayload(_Model):
    kind: Literal["python_wheel"] = "python_wheel"
    package_name: str
    entry_point: str
    parameters: list[str] = Field(default_factory=list)
    named_parameters: dict[str, str] = Field(default_factory=dict)


class SparkJarPayload(_Model):
    kind: Literal["spark_jar"] = "spark_jar"
    main_class_name: str
    jar_uri: str | None = None
    parameters: list[str] = Field(default_factory=list)


class SparkSubmitPayload(_Model):
    kind: Literal["spark_submit"] = "spark_submit"
    parameters: list[str] = Field(default_factory=list)


class SqlPayload(_Model):
    kind: Literal["sql"] = "sql"
    warehouse_id: str
    query: dict[str, Any] = Field(default_factory=dict, description="query / file / dashboard / alert")
    parameters: dict[str, str] = Field(default_factory=dict)


class RunJobPayload(_Model):
    kind: Literal["run_job"] = "run_job"
    job_id: str
    job_parameters: dict[str, Any] = Field(default_factory=dict)
    wait_on_completion: bool = Field(default=True, description="ADF ExecutePipeline waitOnCompletion")


ConditionOp = Literal[
    "EQUAL_TO", "NOT_EQUAL", "GREATER_THAN", "GREATER_THAN_OR_EQUAL", "LESS_THAN", "LESS_THAN_OR_EQUAL"
]


class ConditionPayload(_Model):
    kind: Literal["condition"] = "condition"
    op: ConditionOp
    left: str
    right: str


class ForEachPayload(_Model):
    kind: Literal["for_each"] = "for_each"
    inputs: str | list[Any]
    concurrency: int = Field(default=1, ge=1)
    task: Task


class BlockPayload(_Model):
    """ADF inner activities run together as a sub-DAG: one ForEach iteration (`@item()` set)."""

    kind: Literal["block"] = "block"
    tasks: list[Task]


class UntilPayload(_Model):
    """ADF Until: its inner activities run as a sub-DAG pass after pass until `expression` is true, at most
    `timeout_seconds` in all (then the Until is TIMEDOUT)."""

    kind: Literal["until"] = "until"
    expression: str
    timeout_seconds: int = Field(ge=1)
    tasks: list[Task]


class ResourceFile(_Model):
    http_url: str | None = None
    storage_container_url: str | None = None
    auto_storage_container_name: str | None = None
    file_path: str | None = None
    blob_prefix: str | None = None


class OutputFile(_Model):
    file_pattern: str
    container_url: str
    path: str | None = None
    upload_condition: Literal["taskSuccess", "taskFailure", "taskCompletion"] = "taskCompletion"


class FanOut(_Model):
    """Inputs a command runs over, one Batch task each; the command sees one as `{{input}}` and
    `JOBCLUSTERS_INPUT`. Exactly one source: blobs under a prefix (optionally matching a glob),
    an explicit list, or the files of the event that triggered the run."""

    blob_prefix: str | None = Field(default=None, description="container/prefix or a blob URL prefix")
    glob: str | None = Field(default=None, description="fnmatch pattern on the blob name, e.g. *.csv")
    items: list[str] | None = None
    trigger_files: bool = False
    max_inputs: int = Field(default=100_000, ge=1)

    @model_validator(mode="after")
    def _one_source(self) -> FanOut:
        given = sum([self.blob_prefix is not None, self.items is not None, self.trigger_files])
        if given != 1:
            raise ValueError("fan_out names exactly one of blob_prefix, items, trigger_files")
        return self


class CommandPayload(_Model):
    """A command line run on a Batch node (or locally): Batch tasks, job manager, ADF Custom activity."""

    kind: Literal["command"] = "command"
    command_line: str
    resource_files: list[ResourceFile] = Field(default_factory=list)
    output_files: list[OutputFile] = Field(default_factory=list)
    role: Literal["task", "job_manager", "job_preparation", "job_release"] = "task"
    elevated: bool = False
    instances: int = Field(default=1, ge=1, description="multiInstanceSettings.numberOfInstances")
    fan_out: FanOut | None = Field(default=None, description="one Batch task per input; None: one task")
    home: dict[str, Any] = Field(default_factory=dict)


class LivyBatchPayload(_Model):
    """A Spark batch through a Livy-style API (HDInsight, Synapse Spark job definitions)."""

    kind: Literal["livy_batch"] = "livy_batch"
    file: str
    class_name: str | None = None
    args: list[str] = Field(default_factory=list)
    conf: dict[str, str] = Field(default_factory=dict)
    py_files: list[str] = Field(default_factory=list)
    jars: list[str] = Field(default_factory=list)
    driver_memory: str | None = None
    executor_cores: int | None = None
    num_executors: int | None = None


class HivePayload(_Model):
    kind: Literal["hive"] = "hive"
    query: str | None = None
    file: str | None = None
    defines: dict[str, str] = Field(default_factory=dict)


class MapReducePayload(_Model):
    kind: Literal["mapreduce"] = "mapreduce"
    jar: str
    class_name: str
    args: list[str] = Field(default_factory=list)


class FailPayload(_Model):
    """ADF Fail activity: ends the task FAILED with this message."""

    kind: Literal["fail"] = "fail"
    message: str
    error_code: str = "Failed"


class WebPayload(_Model):
    """ADF WebActivity: one HTTP call; the output is the JSON answer. Header values may be secrets: they
    are sent, never logged or recorded."""

    kind: Literal["web"] = "web"
    url: str
    method: Literal["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"] = "GET"
    headers: dict[str, str] = Field(default_factory=dict)
    body: Any = None
    timeout_seconds: int = Field(default=60, ge=1, description="httpRequestTimeout (ADF default 1 minute)")


class DatasetRef(_Model):
    """An ADF dataset by name (read from the git layout's `dataset/` at run time) or inline, with the
    values of its `@dataset()` parameters."""

    name: str | None = None
    parameters: dict[str, Any] = Field(default_factory=dict)
    inline: dict[str, Any] | None = None


class GetMetadataPayload(_Model):
    kind: Literal["get_metadata"] = "get_metadata"
    dataset: DatasetRef
    field_list: list[str] = Field(default_factory=list)


class LookupPayload(_Model):
    kind: Literal["lookup"] = "lookup"
    dataset: DatasetRef
    first_row_only: bool = True


class WaitPayload(_Model):
    """ADF Wait: a durable timer of `seconds` (a number, or an expression rendering to one)."""

    kind: Literal["wait"] = "wait"
    seconds: int | str


class SetVariablePayload(_Model):
    """ADF SetVariable / AppendVariable on a pipeline variable (`pipelineReturnValue`: the run's return
    value, a list of {key, value})."""

    kind: Literal["set_variable"] = "set_variable"
    name: str
    value: Any = None
    append: bool = False


class FilterPayload(_Model):
    """ADF Filter: the `items` for which `condition` (an expression on `@item()`) is true."""

    kind: Literal["filter"] = "filter"
    items: Any
    condition: str


class BranchPayload(_Model):
    """The selector of an ADF IfCondition / Switch: `on` (rendered when ready) picks the branch, which
    becomes the task's outcome; the branch activities depend on it with that outcome (adf_branches.py)."""

    kind: Literal["branch"] = "branch"
    mode: Literal["if", "switch"]
    on: Any
    cases: list[str] = Field(default_factory=list)


class JoinPayload(_Model):
    """Closes an ADF IfCondition / Switch under its own name: Failed when the selector or an activity of
    the branch taken failed, else Succeeded, with the selector's branch as its outcome."""

    kind: Literal["join"] = "join"
    selector: str
    members: list[str] = Field(default_factory=list)


class UnsupportedPayload(_Model):
    """A task kind we parse and keep but cannot run yet; validation reports it as a warning."""

    kind: Literal["unsupported"] = "unsupported"
    home_kind: str
    spec: dict[str, Any] = Field(default_factory=dict)


Payload = Annotated[
    NotebookPayload
    | SparkPythonPayload
    | PythonWheelPayload
    | SparkJarPayload
    | SparkSubmitPayload
    | SqlPayload
    | RunJobPayload
    | ConditionPayload
    | ForEachPayload
    | CommandPayload
    | LivyBatchPayload
    | HivePayload
    | MapReducePayload
    | FailPayload
    | WebPayload
    | GetMetadataPayload
    | LookupPayload
    | WaitPayload
    | SetVariablePayload
    | FilterPayload
    | BranchPayload
    | JoinPayload
    | BlockPayload
    | UntilPayload
    | UnsupportedPayload,
    Field(discriminator="kind"),
]

RUNNABLE_WITHOUT_COMPUTE = frozenset(
    {
        "condition",
        "run_job",
        "for_each",
        "sql",
        "fail",
        "unsupported",
        "web",
        "get_metadata",
        "lookup",
        "wait",
        "set_variable",
        "filter",
        "branch",
        "join",
        "block",
        "until",
    }
)


# ---------------------------------------------------------------- budget


class Budget(_Model):
    """What a run (and a month of runs) of the job may cost; see docs/cost.md."""

    max_run_cost: float | None = Field(default=None, gt=0, description="refuse / cancel a run above this")
    max_monthly_cost: float | None = Field(default=None, gt=0, description="refuse new runs once spent")
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    action: Literal["cancel", "warn"] = "cancel"


# ---------------------------------------------------------------- task and job


class Task(_Model):
    key: str = Field(min_length=1)
    description: str | None = None
    depends_on: list[Dependency] = Field(default_factory=list)
    run_if: RunIf = RunIf.ALL_SUCCESS
    compute: Compute | None = None
    payload: Payload | None = None
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    timeout_seconds: int | None = Field(default=None, ge=0, description="None or 0: no timeout")
    notifications: Notifications = Field(default_factory=Notifications)
    health: list[HealthRule] = Field(default_factory=list)
    parameters: dict[str, Any] = Field(default_factory=dict)
    libraries: list[Library] = Field(default_factory=list)
    environment: dict[str, str] = Field(default_factory=dict)
    secure_input: bool = False
    secure_output: bool = False
    source_path: str | None = Field(default=None, description="JSON path of this task in the source document")


class JobParameter(_Model):
    name: str
    default: Any = None
    type: str | None = None


class Schedule(_Model):
    quartz_cron_expression: str
    timezone_id: str = "UTC"
    pause_status: Literal["PAUSED", "UNPAUSED"] = "UNPAUSED"


class FileArrivalTrigger(_Model):
    kind: Literal["file_arrival"] = "file_arrival"
    url: str
    min_time_between_triggers_seconds: int = Field(default=0, ge=0)
    wait_after_last_change_seconds: int = Field(default=0, ge=0)
    pause_status: Literal["PAUSED", "UNPAUSED"] = "UNPAUSED"


class StorageEventTrigger(_Model):
    """A blob landing in a container: ADF storage-event semantics (prefix/suffix), plus a glob."""

    kind: Literal["storage_event"] = "storage_event"
    container: str | None = None
    prefix: str | None = None
    suffix: str | None = None
    glob: str | None = None
    ignore_empty_blobs: bool = True
    events: list[str] = Field(default_factory=lambda: ["Microsoft.Storage.BlobCreated"])


Trigger = Annotated[FileArrivalTrigger | StorageEventTrigger, Field(discriminator="kind")]


class Job(_Model):
    name: str = Field(min_length=1)
    description: str | None = None
    tasks: list[Task] = Field(default_factory=list)
    job_clusters: list[JobCluster] = Field(default_factory=list)
    parameters: list[JobParameter] = Field(default_factory=list)
    variables: dict[str, Any] = Field(default_factory=dict)
    schedule: Schedule | None = None
    triggers: list[Trigger] = Field(default_factory=list)
    tags: dict[str, str] = Field(default_factory=dict)
    max_concurrent_runs: int | None = Field(
        default=1, ge=1, description="None: no limit (an ADF pipeline without `concurrency`)"
    )
    queue: bool = False
    timeout_seconds: int | None = Field(default=None, ge=0)
    notifications: Notifications = Field(default_factory=Notifications)
    health: list[HealthRule] = Field(default_factory=list)
    environment: dict[str, str] = Field(default_factory=dict, description="variables every task sees")
    setup_tasks: list[Task] = Field(
        default_factory=list, description="Batch job preparation / release tasks (role in payload)"
    )
    engine_rules: EngineRules = EngineRules.DATABRICKS
    source_format: str = "native"
    home: dict[str, Any] = Field(default_factory=dict, description="home-format job settings we keep")
    budget: Budget | None = Field(default=None, description="imported formats: tag jobclusters.max_run_cost")

    @model_validator(mode="after")
    def _derive_modes(self) -> Job:
        from jobclusters.spec.modes import cluster_mode

        for task in self.all_tasks():
            if task.compute is not None:
                task.compute.modes = cluster_mode(task.compute, self)
        return self

    def all_tasks(self) -> list[Task]:
        """Top-level tasks, then for_each bodies, ADF inner activities and setup tasks (for mode derivation
        and lint)."""
        found: list[Task] = []
        pending = [*self.tasks, *self.setup_tasks]
        while pending:
            task = pending.pop(0)
            found.append(task)
            payload = task.payload
            if isinstance(payload, ForEachPayload):
                pending.insert(0, payload.task)
            elif isinstance(payload, BlockPayload | UntilPayload):
                pending[:0] = payload.tasks
        return found

    def task(self, key: str) -> Task:
        for task in self.tasks:
            if task.key == key:
                return task
        raise KeyError(key)

    def job_cluster(self, key: str) -> JobCluster | None:
        return next((c for c in self.job_clusters if c.key == key), None)

    def parameter_defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.parameters}


ForEachPayload.model_rebuild()
BlockPayload.model_rebuild()
UntilPayload.model_rebuild()
Task.model_rebuild()
Job.model_rebuild()
