"""The cluster-job service: one Protocol for Databricks, HDInsight (Livy), Synapse Spark and a local cluster.

Activities call it and orchestrators poll it with durable timers, so nothing here ever waits for a run to
finish: `submit` returns a handle at once, `get_state` answers from one status call. The request models are
the service's own (not the job model): small, JSON-serializable, shaped after the Databricks `runs/submit`
payload, plus a Livy-style `spark_batch_task` and WebHCat `hive_task` / `mapreduce_task` for HDInsight.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import (
    AliasChoices,
    AliasGenerator,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

IDEMPOTENCY_TOKEN_MAX = 64
# Characters of log kept per task in a RunOutput (the tail: errors are at the end).
LOG_TAIL_CHARS = 64_000

Backend = Literal["databricks", "livy", "synapse", "local", "sql_warehouse"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


_CAMEL_ALIASES = AliasGenerator(
    validation_alias=lambda name: AliasChoices(name, to_camel(name)),
    serialization_alias=to_camel,
)


class _StrictCamel(_Strict):
    """Livy and Synapse speak camelCase: a field reads under either name and dumps by alias in camelCase."""

    model_config = ConfigDict(alias_generator=_CAMEL_ALIASES)


def _spark_strings(value: Any) -> Any:
    """Spark conf, env and tag values are strings; JSON booleans become Spark's `true`/`false`."""
    if isinstance(value, dict):
        return {k: (str(v).lower() if isinstance(v, bool) else str(v)) for k, v in value.items()}
    return value


# ---------------------------------------------------------------------------------------------- compute


class AutoscaleRequest(_Strict):
    min_workers: int = Field(ge=0)
    max_workers: int = Field(ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> AutoscaleRequest:
        if self.max_workers < self.min_workers:
            raise ValueError("max_workers must be >= min_workers")
        return self


class AzureAttributes(_Strict):
    availability: Literal["ON_DEMAND_AZURE", "SPOT_AZURE", "SPOT_WITH_FALLBACK_AZURE"] | None = None
    first_on_demand: int | None = Field(None, ge=0)
    spot_bid_max_price: float | None = None
    zone_id: str | None = None


class InitScript(_Strict):
    """One init script location; exactly one of the destinations (as in the Databricks API)."""

    dbfs: dict[str, str] | None = None
    workspace: dict[str, str] | None = None
    volumes: dict[str, str] | None = None
    abfss: dict[str, str] | None = None
    file: dict[str, str] | None = None

    @model_validator(mode="after")
    def _one_destination(self) -> InitScript:
        given = [k for k in ("dbfs", "workspace", "volumes", "abfss", "file") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("an init script names exactly one of dbfs, workspace, volumes, abfss, file")
        return self


class ClusterRequest(BaseModel):
    """A new cluster, shaped after the Databricks `new_cluster`; unknown Databricks fields pass through."""

    model_config = ConfigDict(extra="allow")

    spark_version: str | None = None
    node_type_id: str | None = None
    driver_node_type_id: str | None = None
    num_workers: int | None = Field(None, ge=0)
    autoscale: AutoscaleRequest | None = None
    spark_conf: dict[str, str] = Field(default_factory=dict)
    spark_env_vars: dict[str, str] = Field(default_factory=dict)
    custom_tags: dict[str, str] = Field(default_factory=dict)
    azure_attributes: AzureAttributes | None = None
    data_security_mode: (
        Literal[
            "NONE",
            "SINGLE_USER",
            "USER_ISOLATION",
            "LEGACY_TABLE_ACL",
            "LEGACY_PASSTHROUGH",
            "LEGACY_SINGLE_USER",
            "DATA_SECURITY_MODE_AUTO",
            "DATA_SECURITY_MODE_STANDARD",
            "DATA_SECURITY_MODE_DEDICATED",
        ]
        | None
    ) = None
    single_user_name: str | None = None
    init_scripts: list[InitScript] = Field(default_factory=list)
    cluster_log_conf: dict[str, Any] | None = None
    enable_elastic_disk: bool | None = None
    instance_pool_id: str | None = None
    policy_id: str | None = None
    cluster_name: str | None = None

    _stringify = field_validator("spark_conf", "spark_env_vars", "custom_tags", mode="before")(_spark_strings)

    @property
    def single_node(self) -> bool:
        return self.autoscale is None and self.num_workers == 0

    @property
    def gpu_runtime(self) -> bool:
        return bool(self.spark_version and "gpu" in self.spark_version)

    @property
    def max_workers(self) -> int:
        if self.autoscale is not None:
            return self.autoscale.max_workers
        return self.num_workers or 0


class JobClusterRequest(_Strict):
    job_cluster_key: str = Field(min_length=1, max_length=100)
    new_cluster: ClusterRequest


# ---------------------------------------------------------------------------------------------- payloads


class SparkPythonTask(_Strict):
    python_file: str = Field(min_length=1)
    parameters: list[str] = Field(default_factory=list)
    source: Literal["WORKSPACE", "GIT"] | None = None


class PythonWheelTask(_Strict):
    package_name: str = Field(min_length=1)
    entry_point: str = Field(min_length=1)
    parameters: list[str] = Field(default_factory=list)
    named_parameters: dict[str, str] = Field(default_factory=dict)


class SqlTask(_Strict):
    """SQL text (inline, or a `.sql` file read where the statements run) with named parameters
    (`:name` markers): Spark SQL on the local cluster, a SQL warehouse on Azure."""

    warehouse_id: str | None = None
    query_text: str | None = None
    file: str | None = None
    parameters: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _text_or_file(self) -> SqlTask:
        if (self.query_text is None) == (self.file is None):
            raise ValueError("a sql_task has exactly one of query_text, file")
        return self


class NotebookTask(_Strict):
    notebook_path: str = Field(min_length=1)
    base_parameters: dict[str, str] = Field(default_factory=dict)
    source: Literal["WORKSPACE", "GIT"] | None = None

    @field_validator("base_parameters", mode="before")
    @classmethod
    def _stringify(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: str(v) for k, v in value.items()}
        return value


class SparkSubmitTask(_Strict):
    parameters: list[str] = Field(min_length=1)


class SparkJarTask(_Strict):
    main_class_name: str = Field(min_length=1)
    parameters: list[str] = Field(default_factory=list)
    jar_uri: str | None = None


class SparkBatchTask(_StrictCamel):
    """A Livy batch (`POST /batches`), also what Synapse's `SparkBatchJobOptions` carries."""

    file: str = Field(min_length=1)
    class_name: str | None = None
    args: list[str] = Field(default_factory=list)
    conf: dict[str, str] = Field(default_factory=dict)
    py_files: list[str] = Field(default_factory=list)
    jars: list[str] = Field(default_factory=list)
    files: list[str] = Field(default_factory=list)
    archives: list[str] = Field(default_factory=list)
    driver_memory: str | None = None
    driver_cores: int | None = None
    executor_memory: str | None = None
    executor_cores: int | None = None
    num_executors: int | None = None
    queue: str | None = None

    _stringify = field_validator("conf", mode="before")(_spark_strings)


class HiveTask(_Strict):
    """A Hive job through WebHCat (`/templeton/v1/hive`): a query or a script file, one of them."""

    query: str | None = None
    file: str | None = None
    defines: dict[str, str] = Field(default_factory=dict)
    arguments: list[str] = Field(default_factory=list)
    status_dir: str | None = None

    @model_validator(mode="after")
    def _query_or_file(self) -> HiveTask:
        if (self.query is None) == (self.file is None):
            raise ValueError("a hive_task names exactly one of query, file")
        return self


class MapReduceTask(_Strict):
    """A MapReduce jar through WebHCat (`/templeton/v1/mapreduce/jar`)."""

    jar: str = Field(min_length=1)
    class_name: str = Field(min_length=1)
    args: list[str] = Field(default_factory=list)
    libjars: list[str] = Field(default_factory=list)
    defines: dict[str, str] = Field(default_factory=dict)
    status_dir: str | None = None


class PypiLibrary(_Strict):
    package: str = Field(min_length=1)
    repo: str | None = None


class MavenLibrary(_Strict):
    coordinates: str = Field(min_length=1)
    repo: str | None = None
    exclusions: list[str] = Field(default_factory=list)


class LibraryRequest(_Strict):
    """One library, exactly one kind, as in the Databricks `libraries[]` entries."""

    pypi: PypiLibrary | None = None
    maven: MavenLibrary | None = None
    whl: str | None = None
    jar: str | None = None
    requirements: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> LibraryRequest:
        given = [k for k in ("pypi", "maven", "whl", "jar", "requirements") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("a library names exactly one of pypi, maven, whl, jar, requirements")
        return self


PAYLOAD_KINDS = (
    "spark_python_task",
    "python_wheel_task",
    "notebook_task",
    "spark_submit_task",
    "spark_jar_task",
    "spark_batch_task",
    "hive_task",
    "mapreduce_task",
    "sql_task",
)
COMPUTE_KINDS = ("new_cluster", "job_cluster_key", "existing_cluster_id")


class ClusterTask(_Strict):
    """One task of a run: one compute, one payload, its libraries and timeout."""

    task_key: str = Field(min_length=1, max_length=100, pattern=r"^[\w\-]+$")
    depends_on: list[str] = Field(default_factory=list)
    new_cluster: ClusterRequest | None = None
    job_cluster_key: str | None = None
    existing_cluster_id: str | None = None
    spark_python_task: SparkPythonTask | None = None
    python_wheel_task: PythonWheelTask | None = None
    notebook_task: NotebookTask | None = None
    spark_submit_task: SparkSubmitTask | None = None
    spark_jar_task: SparkJarTask | None = None
    spark_batch_task: SparkBatchTask | None = None
    hive_task: HiveTask | None = None
    mapreduce_task: MapReduceTask | None = None
    sql_task: SqlTask | None = None
    libraries: list[LibraryRequest] = Field(default_factory=list)
    timeout_seconds: int | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _one_payload(self) -> ClusterTask:
        payloads = [k for k in PAYLOAD_KINDS if getattr(self, k) is not None]
        if len(payloads) != 1:
            raise ValueError(
                f"a task names exactly one payload of {', '.join(PAYLOAD_KINDS)}; got {payloads}"
            )
        computes = [k for k in COMPUTE_KINDS if getattr(self, k) is not None]
        if len(computes) > 1:
            raise ValueError(
                f"a task names at most one compute of {', '.join(COMPUTE_KINDS)}; got {computes}"
            )
        return self

    @property
    def payload_kind(self) -> str:
        return next(k for k in PAYLOAD_KINDS if getattr(self, k) is not None)


class PoolAutoScale(_StrictCamel):
    enabled: bool = True
    min_node_count: int = Field(default=3, ge=3)
    max_node_count: int = Field(default=10, ge=3)


class PoolAutoPause(_StrictCamel):
    enabled: bool = True
    delay_in_minutes: int = Field(default=15, ge=5)


class LibraryRequirements(_Strict):
    filename: str = "requirements.txt"
    content: str


class SparkPoolSettings(BaseModel):
    """A Synapse Spark pool's settings (the ARM `bigDataPools` properties; camelCase names accepted)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, alias_generator=_CAMEL_ALIASES)

    pool_name: str | None = Field(None, validation_alias="pool_name", serialization_alias="pool_name")
    node_size: Literal["Small", "Medium", "Large", "XLarge", "XXLarge", "XXXLarge"] = "Small"
    node_count: int | None = Field(default=None, ge=3)
    auto_scale: PoolAutoScale | None = None
    auto_pause: PoolAutoPause | None = None
    spark_version: str | None = None
    spark_config_properties: dict[str, str] = Field(default_factory=dict)
    library_requirements: LibraryRequirements | None = None

    _stringify = field_validator("spark_config_properties", mode="before")(_spark_strings)


class WarmCluster(_Strict):
    """Local cluster: the long-lived cluster a task shares with others (a run's job cluster, an existing
    cluster, a Spark pool), kept warm while tasks use it and for `idle_seconds` after the last one."""

    key: str = Field(min_length=1, max_length=400)
    idle_seconds: float = Field(ge=0)


class ClusterRunRequest(_Strict):
    """One run to submit. `run_id` is ours (orchestration run id) and ends up in the cluster tags."""

    run_id: str = Field(min_length=1, max_length=200)
    run_name: str | None = None
    tasks: list[ClusterTask] = Field(min_length=1)
    job_clusters: list[JobClusterRequest] = Field(default_factory=list)
    timeout_seconds: int | None = Field(None, ge=0)
    tags: dict[str, str] = Field(default_factory=dict)
    spark_pool: SparkPoolSettings | None = Field(None, description="Synapse: the pool and its settings")
    base_dir: str | None = Field(
        None, description="local cluster: folder that relative paths resolve against"
    )
    warm_cluster: WarmCluster | None = Field(
        None, description="local cluster: the shared cluster whose warm driver runs this run's tasks"
    )

    @model_validator(mode="after")
    def _references(self) -> ClusterRunRequest:
        keys = [t.task_key for t in self.tasks]
        if len(set(keys)) != len(keys):
            raise ValueError("task_key values must be unique")
        cluster_keys = {c.job_cluster_key for c in self.job_clusters}
        for i, task in enumerate(self.tasks):
            if task.job_cluster_key is not None and task.job_cluster_key not in cluster_keys:
                raise ValueError(
                    f"tasks[{i}].job_cluster_key {task.job_cluster_key!r} is not in job_clusters"
                )
            for dep in task.depends_on:
                if dep not in keys:
                    raise ValueError(f"tasks[{i}].depends_on names unknown task {dep!r}")
        return self

    def cluster_for(self, task: ClusterTask) -> ClusterRequest | None:
        if task.new_cluster is not None:
            return task.new_cluster
        for cluster in self.job_clusters:
            if cluster.job_cluster_key == task.job_cluster_key:
                return cluster.new_cluster
        return None

    def task(self, task_key: str) -> ClusterTask:
        for task in self.tasks:
            if task.task_key == task_key:
                return task
        raise KeyError(task_key)


def idempotency_token(run_id: str, task_key: str | None = None) -> str:
    """Databricks accepts at most 64 characters; longer ids are replaced by a stable hash of the whole."""
    raw = run_id if task_key is None else f"{run_id}:{task_key}"
    if len(raw) <= IDEMPOTENCY_TOKEN_MAX:
        return raw
    digest = hashlib.sha256(raw.encode()).hexdigest()
    return f"jc-{digest[: IDEMPOTENCY_TOKEN_MAX - 3]}"


# ---------------------------------------------------------------------------------------------- results


class LifeCycle(StrEnum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    TERMINATING = "TERMINATING"
    TERMINATED = "TERMINATED"


class ResultState(StrEnum):
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"
    TIMEDOUT = "TIMEDOUT"
    CANCELED = "CANCELED"


class RunHandle(_Strict):
    """What `submit` returns; small and JSON-serializable so it travels through activity outputs."""

    backend: Backend
    run_id: str
    idempotency_key: str
    task_run_ids: dict[str, str] = Field(default_factory=dict)
    deadline: datetime | None = Field(
        default=None, description="Livy and Synapse have no run timeout: get_state cancels past this"
    )


class ClusterInfo(_Strict):
    cluster_id: str | None = None
    spark_master: str | None = None
    num_workers: int | None = None
    spark_version: str | None = None
    spark_ui_url: str | None = None


class TaskRunState(_Strict):
    task_key: str
    task_run_id: str | None = None
    life_cycle: LifeCycle
    result: ResultState | None = None
    message: str = ""
    start_time: datetime | None = None
    end_time: datetime | None = None
    cluster: ClusterInfo | None = None


class RunState(_Strict):
    run_id: str
    life_cycle: LifeCycle
    result: ResultState | None = None
    message: str = ""
    start_time: datetime | None = None
    end_time: datetime | None = None
    cluster: ClusterInfo | None = None
    run_page_url: str | None = None
    tasks: list[TaskRunState] = Field(default_factory=list)

    @property
    def terminal(self) -> bool:
        return self.life_cycle is LifeCycle.TERMINATED


class TaskOutput(_Strict):
    task_key: str
    logs: str = ""
    logs_truncated: bool = False
    notebook_result: str | None = None
    error: str | None = None
    error_trace: str | None = None
    task_values: dict[str, Any] = Field(default_factory=dict)


class RunOutput(_Strict):
    run_id: str
    tasks: list[TaskOutput] = Field(default_factory=list)

    def task(self, task_key: str) -> TaskOutput:
        for out in self.tasks:
            if out.task_key == task_key:
                return out
        raise KeyError(task_key)


# ---------------------------------------------------------------------------------------------- errors


class ClusterJobError(Exception):
    """Base of every error a cluster-job service raises; messages never carry credentials."""


class InvalidRunRequest(ClusterJobError):
    """The request cannot run on this backend (the service or remote API said so); `path` names the field."""

    def __init__(self, message: str, path: str = "") -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path


class RunNotFound(ClusterJobError):
    pass


class ServiceUnavailable(ClusterJobError):
    """The remote API kept failing (throttled or 5xx) beyond the retry budget; the caller may try later."""


# ---------------------------------------------------------------------------------------------- protocol


@runtime_checkable
class ClusterJobService(Protocol):
    backend: Backend

    def submit(self, request: ClusterRunRequest, idempotency_key: str) -> RunHandle:
        """Start the run and return at once; the same key returns the same run."""
        ...

    def get_state(self, handle: RunHandle) -> RunState: ...

    def cancel(self, handle: RunHandle) -> None: ...

    def get_output(self, handle: RunHandle) -> RunOutput: ...


@runtime_checkable
class ReportsClusterNodes(Protocol):
    """A service that can say how many workers a run's cluster had over its life (Databricks: the
    cluster's events)."""

    def node_samples(self, handle: RunHandle) -> list[tuple[datetime, int]]:
        """(time, workers) in time order, the last at the run's end; empty when it cannot tell."""
        ...


def tail(text: str, limit: int) -> tuple[str, bool]:
    """Last `limit` characters of a log, and whether anything was cut."""
    if len(text) <= limit:
        return text, False
    return text[-limit:], True


def parse_run_request(data: Any) -> ClusterRunRequest:
    """Validate untyped input (an activity payload) into a request; errors name the JSON path."""
    from pydantic import ValidationError

    try:
        return ClusterRunRequest.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        path = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in first["loc"])
        raise InvalidRunRequest(f"{first['msg']} ({len(exc.errors())} error(s) in all)", path) from None
