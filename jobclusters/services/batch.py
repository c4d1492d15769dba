"""The Batch service seen by activities: a Protocol, its typed request/result models, and a REST converter.

The models mirror the Azure Batch REST API field names (camelCase aliases), so `to_rest()` is the exact
request body the service documents and a pool/job JSON written for Batch (like the seed's) validates into
them unchanged. They are plain JSON when dumped, because they travel through Durable activity inputs.

Secrets never travel in these models: an environment setting either carries a plain `value` or a
`secretRef`, the name of an app setting the executing service resolves at the last moment.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic.alias_generators import to_camel

MAX_TASKS_PER_REQUEST = 100
MAX_REQUEST_BYTES = 1024 * 1024
OWNER_METADATA_KEY = "jobclusters-owner"
_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class BatchSpecError(ValueError):
    """A Batch pool/job/task definition is invalid; `path` is the JSON path of the offending field."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


class BatchServiceError(RuntimeError):
    """The Batch service refused an operation; `code` is the Batch error code (e.g. `PoolNotFound`)."""

    def __init__(self, code: str, message: str, status: int | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


class _RestModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    def to_rest(self) -> dict[str, Any]:
        """The REST request body: camelCase names, no unset fields, durations as ISO 8601."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


class NameValue(_RestModel):
    name: str
    value: str


class EnvironmentSetting(_RestModel):
    name: str = Field(min_length=1)
    value: str | None = None
    secret_ref: str | None = Field(
        default=None, description="Name of an app setting holding the value; resolved late, never stored."
    )

    @model_validator(mode="after")
    def _one_source(self) -> EnvironmentSetting:
        if self.value is not None and self.secret_ref is not None:
            raise ValueError("give either value or secretRef, not both")
        return self


class ResourceFile(_RestModel):
    http_url: str | None = None
    storage_container_url: str | None = None
    auto_storage_container_name: str | None = None
    blob_prefix: str | None = None
    file_path: str | None = None
    file_mode: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> ResourceFile:
        sources = [self.http_url, self.storage_container_url, self.auto_storage_container_name]
        if sum(s is not None for s in sources) != 1:
            raise ValueError(
                "exactly one of httpUrl, storageContainerUrl, autoStorageContainerName is required"
            )
        if self.http_url is not None and not self.file_path:
            raise ValueError("filePath is required with httpUrl")
        return self


class OutputFileContainer(_RestModel):
    container_url: str
    path: str | None = None


class OutputFileDestination(_RestModel):
    container: OutputFileContainer


class OutputFileUploadOptions(_RestModel):
    upload_condition: Literal["taskSuccess", "taskFailure", "taskCompletion"] = "taskCompletion"


class OutputFile(_RestModel):
    file_pattern: str = Field(min_length=1)
    destination: OutputFileDestination
    upload_options: OutputFileUploadOptions = Field(default_factory=OutputFileUploadOptions)


class TaskConstraints(_RestModel):
    max_wall_clock_time: timedelta | None = None
    retention_time: timedelta | None = None
    max_task_retry_count: int | None = Field(default=None, ge=-1)


class TaskIdRange(_RestModel):
    start: int = Field(ge=0)
    end: int = Field(ge=0)


class TaskDependencies(_RestModel):
    task_ids: list[str] = Field(default_factory=list)
    task_id_ranges: list[TaskIdRange] = Field(default_factory=list)


class TaskSpec(_RestModel):
    """One Batch task (REST `TaskAddParameter`)."""

    id: str
    command_line: str = Field(min_length=1)
    display_name: str | None = None
    resource_files: list[ResourceFile] = Field(default_factory=list)
    output_files: list[OutputFile] = Field(default_factory=list)
    environment_settings: list[EnvironmentSetting] = Field(default_factory=list)
    constraints: TaskConstraints | None = None
    depends_on: TaskDependencies | None = None
    required_slots: int | None = Field(default=None, ge=1)
    exit_conditions: dict[str, Any] | None = None
    user_identity: dict[str, Any] | None = None
    multi_instance_settings: dict[str, Any] | None = None
    application_package_references: list[dict[str, Any]] | None = None

    @model_validator(mode="after")
    def _valid_id(self) -> TaskSpec:
        if not _ID_PATTERN.match(self.id):
            raise ValueError(f"task id {self.id!r} must be 1-64 letters, digits, '-' or '_'")
        return self


class StartTask(_RestModel):
    command_line: str = Field(min_length=1)
    resource_files: list[ResourceFile] = Field(default_factory=list)
    environment_settings: list[EnvironmentSetting] = Field(default_factory=list)
    user_identity: dict[str, Any] | None = None
    max_task_retry_count: int | None = Field(default=None, ge=-1)
    wait_for_success: bool = True


class PoolSpec(_RestModel):
    """A pool to create (REST `PoolAddParameter`)."""

    id: str
    vm_size: str = Field(min_length=1)
    display_name: str | None = None
    virtual_machine_configuration: dict[str, Any] | None = None
    target_dedicated_nodes: int | None = Field(default=None, ge=0)
    target_low_priority_nodes: int | None = Field(default=None, ge=0)
    enable_auto_scale: bool = False
    auto_scale_formula: str | None = None
    auto_scale_evaluation_interval: timedelta | None = None
    enable_inter_node_communication: bool | None = None
    task_slots_per_node: int = Field(default=1, ge=1, le=256)
    task_scheduling_policy: dict[str, Any] | None = None
    start_task: StartTask | None = None
    mount_configuration: list[dict[str, Any]] | None = None
    application_package_references: list[dict[str, Any]] | None = None
    metadata: list[NameValue] = Field(default_factory=list)

    @model_validator(mode="after")
    def _scale_is_consistent(self) -> PoolSpec:
        if not _ID_PATTERN.match(self.id):
            raise ValueError(f"pool id {self.id!r} must be 1-64 letters, digits, '-' or '_'")
        if self.enable_auto_scale and not self.auto_scale_formula:
            raise ValueError("autoScaleFormula is required when enableAutoScale is true")
        if self.enable_auto_scale:
            # Batch rejects target node counts together with autoscale; the formula decides.
            self.target_dedicated_nodes = None
            self.target_low_priority_nodes = None
        return self

    @property
    def node_count(self) -> int:
        return (self.target_dedicated_nodes or 0) + (self.target_low_priority_nodes or 0)

    def with_owner(self, owner: str) -> PoolSpec:
        """A copy tagged with who created it, so a retried create can tell its own pool from another's."""
        kept = [m for m in self.metadata if m.name != OWNER_METADATA_KEY]
        return self.model_copy(update={"metadata": [*kept, NameValue(name=OWNER_METADATA_KEY, value=owner)]})

    def owner(self) -> str | None:
        return next((m.value for m in self.metadata if m.name == OWNER_METADATA_KEY), None)


class AutoPoolSpecification(_RestModel):
    auto_pool_id_prefix: str | None = Field(default=None, max_length=20)
    pool_lifetime_option: Literal["job", "jobSchedule"] = "job"
    keep_alive: bool = False
    pool: dict[str, Any]


class PoolInformation(_RestModel):
    pool_id: str | None = None
    auto_pool_specification: AutoPoolSpecification | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> PoolInformation:
        if (self.pool_id is None) == (self.auto_pool_specification is None):
            raise ValueError("exactly one of poolId or autoPoolSpecification is required")
        return self


class JobConstraints(_RestModel):
    max_wall_clock_time: timedelta | None = None
    max_task_retry_count: int | None = Field(default=None, ge=-1)


class JobManagerTask(_RestModel):
    id: str
    command_line: str = Field(min_length=1)
    display_name: str | None = None
    resource_files: list[ResourceFile] = Field(default_factory=list)
    output_files: list[OutputFile] = Field(default_factory=list)
    environment_settings: list[EnvironmentSetting] = Field(default_factory=list)
    constraints: TaskConstraints | None = None
    kill_job_on_completion: bool | None = None
    run_exclusive: bool | None = None
    user_identity: dict[str, Any] | None = None
    required_slots: int | None = None


class JobPreparationTask(_RestModel):
    id: str | None = None
    command_line: str = Field(min_length=1)
    resource_files: list[ResourceFile] = Field(default_factory=list)
    environment_settings: list[EnvironmentSetting] = Field(default_factory=list)
    constraints: TaskConstraints | None = None
    wait_for_success: bool | None = None
    user_identity: dict[str, Any] | None = None
    rerun_on_node_reboot_after_success: bool | None = None


class JobReleaseTask(_RestModel):
    id: str | None = None
    command_line: str = Field(min_length=1)
    resource_files: list[ResourceFile] = Field(default_factory=list)
    environment_settings: list[EnvironmentSetting] = Field(default_factory=list)
    max_wall_clock_time: timedelta | None = None
    retention_time: timedelta | None = None
    user_identity: dict[str, Any] | None = None


class JobSpec(_RestModel):
    """A job to create (REST `JobAddParameter`)."""

    id: str
    pool_info: PoolInformation
    display_name: str | None = None
    priority: int | None = Field(default=None, ge=-1000, le=1000)
    constraints: JobConstraints | None = None
    job_manager_task: JobManagerTask | None = None
    job_preparation_task: JobPreparationTask | None = None
    job_release_task: JobReleaseTask | None = None
    common_environment_settings: list[EnvironmentSetting] = Field(default_factory=list)
    on_all_tasks_complete: Literal["noAction", "terminateJob"] | None = None
    on_task_failure: Literal["noAction", "performExitOptionsJobAction"] | None = None
    uses_task_dependencies: bool = False
    metadata: list[NameValue] = Field(default_factory=list)

    @model_validator(mode="after")
    def _valid_id(self) -> JobSpec:
        if not _ID_PATTERN.match(self.id):
            raise ValueError(f"job id {self.id!r} must be 1-64 letters, digits, '-' or '_'")
        return self


class PoolPlacement(_RestModel):
    """Where a job's tasks run: a pool created for it, a pool that already exists, or a Batch autopool."""

    mode: Literal["onDemand", "existing", "autoPool"]
    pool: PoolSpec | None = None
    pool_id: str | None = None
    auto_pool_id_prefix: str | None = Field(default=None, max_length=20)
    keep_alive: bool = False
    stand_in_if_missing: bool = Field(
        default=False, description="a missing existing pool may be stood in for (only the local service can)"
    )

    @model_validator(mode="after")
    def _fields_for_mode(self) -> PoolPlacement:
        if self.mode == "existing" and not self.pool_id:
            raise ValueError("poolId is required for mode 'existing'")
        if self.mode in ("onDemand", "autoPool") and self.pool is None:
            raise ValueError(f"pool is required for mode {self.mode!r}")
        return self


class PoolRef(_RestModel):
    """What `ensure_pool` hands back; `delete_pool` only deletes a pool this ref says we created."""

    mode: Literal["onDemand", "existing", "autoPool"]
    pool_id: str | None = None
    created: bool = False
    vm_size: str | None = None
    node_count: int = 0
    low_priority: bool = False
    auto_pool_specification: AutoPoolSpecification | None = None
    stand_in: bool = Field(default=False, description="a local pool standing in for a named existing one")

    def pool_info(self) -> PoolInformation:
        if self.auto_pool_specification is not None:
            return PoolInformation(auto_pool_specification=self.auto_pool_specification)
        return PoolInformation(pool_id=self.pool_id)


class TaskCounts(_RestModel):
    active: int = 0
    running: int = 0
    completed: int = 0
    succeeded: int = 0
    failed: int = 0

    @property
    def total(self) -> int:
        return self.active + self.running + self.completed

    @property
    def done(self) -> bool:
        return self.active == 0 and self.running == 0


class FailedTask(_RestModel):
    task_id: str
    exit_code: int | None = None
    category: str | None = None
    code: str | None = None
    message: str | None = None
    retry_count: int = 0
    requeue_count: int = 0
    node_id: str | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    log_urls: dict[str, str] = Field(default_factory=dict, description="stdout.txt / stderr.txt locations")


class WorkSpan(_RestModel):
    """When a job's tasks ran, from their own `executionInfo`: the first start and the last end.

    The orchestrator looks at Batch on a schedule, so the moments it notices a change say nothing about
    how long the work took; these are the times Batch recorded for the work itself."""

    start_time: datetime | None = None
    end_time: datetime | None = None

    @classmethod
    def of(cls, times: Iterable[tuple[datetime | None, datetime | None]]) -> WorkSpan:
        """The span of tasks given as their `executionInfo` (startTime, endTime)."""
        starts: list[datetime] = []
        ends: list[datetime] = []
        for start, end in times:
            if start is not None:
                starts.append(start)
            if end is not None:
                ends.append(end)
        return cls(start_time=min(starts, default=None), end_time=max(ends, default=None))


class TaskAddFailure(_RestModel):
    task_id: str
    code: str
    message: str


class AddTasksResult(_RestModel):
    """`added` lists every task now in the job, including ones a previous attempt had already added."""

    added: list[str] = Field(default_factory=list)
    failed: list[TaskAddFailure] = Field(default_factory=list)


class OwnedPool(_RestModel):
    """A pool the app created (it carries the owner metadata): what the sweeper weighs."""

    pool_id: str
    owner: str


class BatchService(Protocol):
    """What activities call. Every create is idempotent; nothing here waits for tasks to finish."""

    def ensure_pool(self, placement: PoolPlacement, *, owner: str) -> PoolRef: ...

    def create_job(self, job: JobSpec) -> None: ...

    def add_tasks(self, job_id: str, tasks: Sequence[TaskSpec]) -> AddTasksResult: ...

    def get_task_counts(self, job_id: str) -> TaskCounts: ...

    def list_failed_tasks(self, job_id: str) -> list[FailedTask]: ...

    def get_work_span(self, job_id: str) -> WorkSpan: ...

    def terminate_job(self, job_id: str) -> None: ...

    def delete_job(self, job_id: str) -> None: ...

    def delete_pool(self, ref: PoolRef) -> bool: ...

    def list_owned_pools(self) -> list[OwnedPool]: ...

    def get_pool_nodes(self, pool_id: str) -> int | None:
        """The pool's current nodes (dedicated and low-priority); None when the pool is gone."""
        ...


def make_task_id(run_id: str, index: int) -> str:
    """A task id that a retried activity regenerates identically: run id + input index, Batch-safe."""
    if index < 0:
        raise ValueError("index must be >= 0")
    suffix = f"-{index:06d}"
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", run_id)
    if len(safe) + len(suffix) > 64:
        digest = hashlib.sha256(run_id.encode()).hexdigest()[:16]
        safe = f"{safe[: 64 - len(suffix) - 17]}_{digest}"
    return f"{safe}{suffix}"


def task_index(task_id: str) -> int:
    """The input index a `make_task_id` id carries."""
    return int(task_id.rsplit("-", 1)[1])


def resolve_environment(
    settings: Sequence[EnvironmentSetting], env: Mapping[str, str] | None = None
) -> list[dict[str, str]]:
    """Turn settings into REST `{name, value}` pairs, reading `secretRef` values from the app settings."""
    source = os.environ if env is None else env
    out: list[dict[str, str]] = []
    for i, setting in enumerate(settings):
        if setting.secret_ref is not None:
            if setting.secret_ref not in source:
                raise BatchSpecError(
                    f"environmentSettings[{i}].secretRef",
                    f"app setting {setting.secret_ref!r} is not defined",
                )
            out.append({"name": setting.name, "value": source[setting.secret_ref]})
        else:
            out.append({"name": setting.name, "value": setting.value or ""})
    return out


_M = TypeVar("_M", bound=BaseModel)


def _validate(model: type[_M], data: object, root: str) -> _M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        path = root + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in first["loc"])
        raise BatchSpecError(path, first["msg"]) from None


def _rename_legacy_pool_fields(data: dict[str, Any]) -> dict[str, Any]:
    data = dict(data)
    packages = data.pop("applicationPackages", None)
    if packages is not None:
        if not isinstance(packages, list):
            raise BatchSpecError("pool.applicationPackages", "expected a list")
        data["applicationPackageReferences"] = [
            {"applicationId": p.get("id") or p.get("applicationId"), "version": p.get("version")}
            for p in packages
            if isinstance(p, dict)
        ]
    return data


def pool_from_rest(data: object) -> PoolSpec:
    """A Batch pool JSON (REST `PoolAddParameter`, as in the seed) as a `PoolSpec`."""
    if not isinstance(data, dict):
        raise BatchSpecError("pool", "expected a JSON object")
    return _validate(PoolSpec, _rename_legacy_pool_fields(data), "pool")


def job_from_rest(data: object) -> JobSpec:
    """A Batch job JSON (REST `JobAddParameter`) as a `JobSpec`."""
    if not isinstance(data, dict):
        raise BatchSpecError("job", "expected a JSON object")
    return _validate(JobSpec, data, "job")


def task_from_rest(data: object, *, path: str = "task") -> TaskSpec:
    if not isinstance(data, dict):
        raise BatchSpecError(path, "expected a JSON object")
    return _validate(TaskSpec, data, path)
