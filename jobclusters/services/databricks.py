"""Cluster jobs on Azure Databricks: one-time runs through Jobs API 2.2 (`runs/submit`) via databricks-sdk.

The submit body is built here from the request (not through the SDK's dataclasses, which drop fields they
do not know), and sent with the workspace client's own API client, so auth and user agent stay the SDK's.
The SDK still says which errors are transient, but its own retry loop is cut short (see `_NoSdkRetries`)
so that retries, Retry-After included, follow `retries.call_with_retries` as for every other service.
Reads use the typed `jobs` API. `runs/submit` has no
`job_clusters`: a task that names a `job_cluster_key` gets that cluster's spec inlined as its `new_cluster`
(so it runs on a cluster of that shape, not one shared with its siblings; share through
`existing_cluster_id`).
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from databricks.sdk import WorkspaceClient
from databricks.sdk.clock import Clock
from databricks.sdk.config import Config
from databricks.sdk.credentials_provider import CredentialsProvider, CredentialsStrategy
from databricks.sdk.errors import (
    BadRequest,
    DatabricksError,
    DeadlineExceeded,
    InternalError,
    NotFound,
    TemporarilyUnavailable,
    TooManyRequests,
)
from databricks.sdk.service import compute, jobs

from jobclusters.services.cluster import (
    LOG_TAIL_CHARS,
    Backend,
    ClusterInfo,
    ClusterRequest,
    ClusterRunRequest,
    ClusterTask,
    InvalidRunRequest,
    LifeCycle,
    ResultState,
    RunHandle,
    RunNotFound,
    RunOutput,
    RunState,
    ServiceUnavailable,
    TaskOutput,
    TaskRunState,
    idempotency_token,
)
from jobclusters.services.rate_limit import TokenBucket
from jobclusters.services.retries import BackoffPolicy, RetryableError, call_with_retries

T = TypeVar("T")

AZURE_DATABRICKS_SCOPE = "2ff814a6-3304-4ab8-85cb-cd0e6f879c1d/.default"
RUN_ID_TAG = "JobClustersRunId"
SUPPORTED_PAYLOADS = (
    "spark_python_task",
    "python_wheel_task",
    "notebook_task",
    "spark_submit_task",
    "spark_jar_task",
)
GPU_NODE_TYPE = re.compile(r"^Standard_N[CDV]", re.IGNORECASE)
SPOT = ("SPOT_AZURE", "SPOT_WITH_FALLBACK_AZURE")

_PENDING = {"QUEUED", "PENDING", "BLOCKED", "WAITING_FOR_RETRY", "WAITING"}
_TERMINATED = {"TERMINATED", "SKIPPED", "INTERNAL_ERROR"}
_RESULTS = {
    "SUCCESS": ResultState.SUCCESS,
    "SUCCESS_WITH_FAILURES": ResultState.SUCCESS,
    "EXCLUDED": ResultState.SUCCESS,
    "FAILED": ResultState.FAILED,
    "UPSTREAM_FAILED": ResultState.FAILED,
    "MAXIMUM_CONCURRENT_RUNS_REACHED": ResultState.FAILED,
    "DISABLED": ResultState.FAILED,
    "TIMEDOUT": ResultState.TIMEDOUT,
    "CANCELED": ResultState.CANCELED,
    "UPSTREAM_CANCELED": ResultState.CANCELED,
}


class AzureIdentityCredentials(CredentialsStrategy):
    """Azure AD tokens for the Azure Databricks resource from any azure-identity `TokenCredential`."""

    def __init__(self, credential: Any) -> None:
        self._credential = credential

    def auth_type(self) -> str:
        return "azure-identity"

    def __call__(self, cfg: Config) -> CredentialsProvider:
        def headers() -> dict[str, str]:
            token = self._credential.get_token(AZURE_DATABRICKS_SCOPE)
            return {"Authorization": f"Bearer {token.token}"}

        return headers


class _SdkWouldRetry(Exception):
    """The SDK decided to retry; raised from where it would sleep, with its error as `__context__`."""


class _NoSdkRetries(Clock):
    """The SDK sleeps through its clock before every retry: raising there hands the error back to us."""

    def time(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        raise _SdkWouldRetry(seconds)


def workspace_client(host: str, *, token: str | None = None, credential: Any = None) -> WorkspaceClient:
    """A PAT when given, else Azure AD through azure-identity (DefaultAzureCredential unless given one)."""
    common: dict[str, Any] = {"host": host, "clock": _NoSdkRetries()}
    if token:
        return WorkspaceClient(config=Config(token=token, auth_type="pat", **common))
    if credential is None:
        from azure.identity import DefaultAzureCredential

        credential = DefaultAzureCredential()
    return WorkspaceClient(config=Config(credentials_strategy=AzureIdentityCredentials(credential), **common))


def cluster_body(
    spec: ClusterRequest, path: str, *, run_id: str, tags: Mapping[str, str], required_tags: Sequence[str]
) -> dict[str, Any]:
    """The `new_cluster` object for one task, with the cluster modes of the seed made explicit."""
    body = spec.model_dump(mode="json", exclude_none=True)
    if not spec.spark_version:
        raise InvalidRunRequest("spark_version is required for a Databricks cluster", f"{path}.spark_version")
    if spec.autoscale is None and spec.num_workers is None:
        raise InvalidRunRequest("give num_workers (0 for single node) or autoscale", f"{path}.num_workers")
    if spec.autoscale is not None:
        body.pop("num_workers", None)
    custom_tags = {**tags, **spec.custom_tags, RUN_ID_TAG: run_id}
    spark_conf = dict(spec.spark_conf)
    if spec.single_node:
        spark_conf.setdefault("spark.databricks.cluster.profile", "singleNode")
        spark_conf.setdefault("spark.master", "local[*, 4]")
        custom_tags.setdefault("ResourceClass", "SingleNode")
    attrs = spec.azure_attributes
    if attrs is not None and attrs.availability in SPOT:
        body["azure_attributes"].setdefault("first_on_demand", 1)
    if spec.gpu_runtime and spec.node_type_id and not GPU_NODE_TYPE.match(spec.node_type_id):
        raise InvalidRunRequest(
            f"runtime {spec.spark_version!r} needs a GPU node type (Standard_NC*/ND*/NV*)",
            f"{path}.node_type_id",
        )
    missing = [t for t in required_tags if not custom_tags.get(t)]
    if missing:
        raise InvalidRunRequest(f"missing cost tag(s) {', '.join(missing)}", f"{path}.custom_tags")
    body["custom_tags"] = custom_tags
    if spark_conf:
        body["spark_conf"] = spark_conf
    for empty in ("init_scripts", "spark_env_vars", "spark_conf"):
        if not body.get(empty):
            body.pop(empty, None)
    return body


def task_body(
    request: ClusterRunRequest, index: int, task: ClusterTask, required_tags: Sequence[str]
) -> dict[str, Any]:
    path = f"$.tasks[{index}]"
    kind = task.payload_kind
    if kind not in SUPPORTED_PAYLOADS:
        raise InvalidRunRequest(
            f"Databricks runs {', '.join(SUPPORTED_PAYLOADS)}; not {kind}", f"{path}.{kind}"
        )
    body: dict[str, Any] = {"task_key": task.task_key}
    if task.depends_on:
        body["depends_on"] = [{"task_key": key} for key in task.depends_on]
    cluster = request.cluster_for(task)
    if task.existing_cluster_id is not None:
        body["existing_cluster_id"] = task.existing_cluster_id
    elif cluster is not None:
        where = (
            f"{path}.new_cluster"
            if task.new_cluster is not None
            else f"$.job_clusters[{task.job_cluster_key}]"
        )
        body["new_cluster"] = cluster_body(
            cluster, where, run_id=request.run_id, tags=request.tags, required_tags=required_tags
        )
    else:
        raise InvalidRunRequest(
            "a Databricks task needs new_cluster, job_cluster_key or existing_cluster_id", path
        )
    if kind == "spark_submit_task" and "new_cluster" not in body:
        raise InvalidRunRequest("spark_submit_task runs only on a new cluster", f"{path}.existing_cluster_id")
    payload = getattr(task, kind)
    body[kind] = payload.model_dump(mode="json", exclude_none=True, by_alias=False)
    if task.libraries:
        body["libraries"] = [lib.model_dump(mode="json", exclude_defaults=True) for lib in task.libraries]
    if task.timeout_seconds is not None:
        body["timeout_seconds"] = task.timeout_seconds
    return body


def submit_body(
    request: ClusterRunRequest, idempotency_key: str, required_tags: Sequence[str] = ()
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "run_name": request.run_name or request.run_id,
        "idempotency_token": idempotency_token(idempotency_key),
        "tasks": [task_body(request, i, t, required_tags) for i, t in enumerate(request.tasks)],
    }
    if request.timeout_seconds is not None:
        body["timeout_seconds"] = request.timeout_seconds
    return body


# ---------------------------------------------------------------------------------------------- state


NODE_COUNT_EVENTS = (
    compute.EventType.RUNNING,
    compute.EventType.RESIZING,
    compute.EventType.UPSIZE_COMPLETED,
    compute.EventType.NODES_LOST,
    compute.EventType.TERMINATING,
)


def _time(ms: int | None) -> datetime | None:
    return datetime.fromtimestamp(ms / 1000, tz=UTC) if ms else None


def work_times(
    start_ms: int | None, setup_ms: int | None, execution_ms: int | None, end_ms: int | None
) -> tuple[datetime | None, datetime | None]:
    """The commands' own (start, end) of a run or task run: `start_time` is when the cluster was asked
    for, `setup_duration` the cluster start, `execution_duration` the commands (cleanup comes after)."""
    if not start_ms:
        return None, None
    began = start_ms + (setup_ms or 0)
    if execution_ms:
        return _time(began), _time(began + execution_ms)
    return _time(began), _time(end_ms) if end_ms and end_ms >= began else None


def _run_work_times(run: jobs.Run, tasks: list[jobs.RunTask]) -> tuple[datetime | None, datetime | None]:
    """A one-time run's work: its own durations, or (multi-task format, where the run's are 0) its tasks'
    first start to last end."""
    if run.setup_duration or run.execution_duration or not tasks:
        return work_times(run.start_time, run.setup_duration, run.execution_duration, run.end_time)
    spans = [work_times(t.start_time, t.setup_duration, t.execution_duration, t.end_time) for t in tasks]
    starts = [s for s, _ in spans if s is not None]
    ends = [e for _, e in spans if e is not None]
    done = len(ends) == len(spans)
    return min(starts, default=None), max(ends) if done and ends else None


def _enum(value: Any) -> str | None:
    return None if value is None else str(getattr(value, "value", value))


def _life_and_result(
    state: jobs.RunState | None, status: jobs.RunStatus | None
) -> tuple[LifeCycle, ResultState | None, str]:
    life = _enum(status.state) if status is not None and status.state is not None else None
    life = life or (_enum(state.life_cycle_state) if state is not None else None) or "PENDING"
    result_name = _enum(state.result_state) if state is not None else None
    details = status.termination_details if status is not None else None
    message = (
        (state.state_message if state is not None else None) or (details.message if details else None) or ""
    )
    if life in _PENDING:
        return LifeCycle.PENDING, None, message
    if life == "RUNNING":
        return LifeCycle.RUNNING, None, message
    if life == "TERMINATING":
        return LifeCycle.TERMINATING, None, message
    result: ResultState | None = _RESULTS.get(result_name or "")
    if result is None:
        code = _enum(details.code) if details else None
        if code == "SUCCESS":
            result = ResultState.SUCCESS
        elif code in ("CANCELED", "USER_CANCELED"):
            result = ResultState.CANCELED
        else:
            result = ResultState.FAILED
    if life == "INTERNAL_ERROR":
        result = ResultState.FAILED
    return LifeCycle.TERMINATED, result, message


def _cluster(instance: jobs.ClusterInstance | None, spec: Any) -> ClusterInfo | None:
    if instance is None and spec is None:
        return None
    new_cluster = getattr(spec, "new_cluster", None)
    return ClusterInfo(
        cluster_id=instance.cluster_id if instance else None,
        num_workers=getattr(new_cluster, "num_workers", None),
        spark_version=getattr(new_cluster, "spark_version", None),
    )


def run_state(run: jobs.Run, tasks: list[jobs.RunTask]) -> RunState:
    life, result, message = _life_and_result(run.state, run.status)
    task_states = []
    for task in tasks:
        t_life, t_result, t_message = _life_and_result(task.state, task.status)
        work = work_times(task.start_time, task.setup_duration, task.execution_duration, task.end_time)
        task_states.append(
            TaskRunState(
                task_key=task.task_key or "",
                task_run_id=None if task.run_id is None else str(task.run_id),
                life_cycle=t_life,
                result=t_result,
                message=t_message,
                start_time=work[0],
                end_time=work[1],
                cluster=_cluster(task.cluster_instance, task),
            )
        )
    if life is LifeCycle.TERMINATED and result is not ResultState.SUCCESS and not message:
        failed = [t for t in task_states if t.result not in (None, ResultState.SUCCESS) and t.message]
        message = "; ".join(f"{t.task_key}: {t.message}" for t in failed)
    start, end = _run_work_times(run, tasks)
    return RunState(
        run_id=str(run.run_id),
        life_cycle=life,
        result=result,
        message=message,
        start_time=start,
        end_time=end,
        cluster=_cluster(run.cluster_instance, run.cluster_spec),
        run_page_url=run.run_page_url,
        tasks=task_states,
    )


# ---------------------------------------------------------------------------------------------- service


class DatabricksClusterJobService:
    backend: Backend = "databricks"

    def __init__(
        self,
        client: WorkspaceClient,
        *,
        bucket: TokenBucket | None = None,
        policy: BackoffPolicy | None = None,
        required_tags: Sequence[str] = (),
        sleep: Callable[[float], None] = time.sleep,
        log_tail_chars: int = LOG_TAIL_CHARS,
    ) -> None:
        self._client = client
        self._bucket = bucket
        self._policy = policy or BackoffPolicy()
        self._required_tags = tuple(required_tags)
        self._sleep = sleep
        self._log_tail_chars = log_tail_chars

    @classmethod
    def from_settings(cls, settings: Any, *, credential: Any = None) -> DatabricksClusterJobService:
        from jobclusters.needed_settings import require_service

        require_service("databricks", settings)
        token = settings.databricks_token.get_secret_value() if settings.databricks_token else None
        client = workspace_client(settings.databricks_host, token=token, credential=credential)
        return cls(
            client,
            bucket=TokenBucket(rate=20.0, capacity=20.0),
            required_tags=settings.required_cost_tags,
        )

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        def attempt() -> T:
            try:
                return fn()
            except _SdkWouldRetry as exc:
                cause = exc.__context__
                retry_after = getattr(cause, "retry_after_secs", None)
                raise RetryableError(
                    f"{type(cause).__name__}: {cause}",
                    retry_after=float(retry_after) if retry_after is not None else None,
                ) from cause
            except DatabricksError as exc:
                # Unmapped statuses (502 from a gateway, say) come as the bare base class.
                transient = (InternalError, TemporarilyUnavailable, DeadlineExceeded)
                if isinstance(exc, transient) or type(exc) is DatabricksError:
                    raise RetryableError(f"{type(exc).__name__}: {exc}") from exc
                raise

        try:
            return call_with_retries(
                attempt, bucket=self._bucket, policy=self._policy, sleep=self._sleep, what=what
            )
        except RetryableError as exc:
            kind = "throttled (429)" if isinstance(exc.__cause__, TooManyRequests) else "unavailable"
            raise ServiceUnavailable(f"Databricks {what}: {kind} beyond the retry budget: {exc}") from exc
        except BadRequest as exc:
            raise InvalidRunRequest(f"Databricks rejected {what}: {exc}") from exc
        except NotFound as exc:
            raise RunNotFound(f"Databricks {what}: {exc}") from exc
        except DatabricksError as exc:
            raise InvalidRunRequest(f"Databricks {what} failed: {exc}") from exc

    def submit(self, request: ClusterRunRequest, idempotency_key: str) -> RunHandle:
        body = submit_body(request, idempotency_key, self._required_tags)
        headers = {"Accept": "application/json", "Content-Type": "application/json"}
        response = self._call(
            "runs/submit",
            lambda: self._client.api_client.do(
                "POST", "/api/2.2/jobs/runs/submit", body=body, headers=headers
            ),
        )
        if not isinstance(response, dict) or "run_id" not in response:
            raise ServiceUnavailable(f"Databricks runs/submit answered without run_id: {response!r}")
        return RunHandle(
            backend="databricks", run_id=str(response["run_id"]), idempotency_key=idempotency_key
        )

    def _run_with_all_tasks(self, run_id: int) -> tuple[jobs.Run, list[jobs.RunTask]]:
        run = self._call("runs/get", lambda: self._client.jobs.get_run(run_id))
        tasks = list(run.tasks or [])
        page = run
        while page.next_page_token:
            token = page.next_page_token
            page = self._call(
                "runs/get", functools.partial(self._client.jobs.get_run, run_id, page_token=token)
            )
            tasks.extend(page.tasks or [])
        return run, tasks

    def get_state(self, handle: RunHandle) -> RunState:
        run, tasks = self._run_with_all_tasks(int(handle.run_id))
        return run_state(run, tasks)

    def node_samples(self, handle: RunHandle) -> list[tuple[datetime, int]]:
        """Workers over the life of the cluster the run created (not an existing cluster: its events are
        other work's too), from the cluster's events: RUNNING, resizes and lost nodes carry
        `details.current_num_workers`; TERMINATING ends the count. Closed at the run's end."""
        run, tasks = self._run_with_all_tasks(int(handle.run_id))
        created = [t for t in tasks if t.new_cluster is not None or t.job_cluster_key]
        cluster_id = next((t.cluster_instance.cluster_id for t in created if t.cluster_instance), None)
        if not cluster_id:
            return []
        events = self._call(
            "clusters/events",
            lambda: list(
                self._client.clusters.events(
                    cluster_id, event_types=list(NODE_COUNT_EVENTS), order=compute.GetEventsOrder.ASC
                )
            ),
        )
        samples: list[tuple[datetime, int]] = []
        for event in events:
            at = _time(event.timestamp)
            workers = 0 if event.type == compute.EventType.TERMINATING else None
            if workers is None and event.details is not None:
                workers = event.details.current_num_workers
            if at is not None and workers is not None:
                samples.append((at, workers))
        end = _time(run.end_time) if run.end_time else None
        if samples and end is not None and end > samples[-1][0]:
            samples.append((end, samples[-1][1]))
        return samples

    def cancel(self, handle: RunHandle) -> None:
        run_id = int(handle.run_id)
        self._call("runs/cancel", lambda: self._client.jobs.cancel_run(run_id))

    def list_owned_runs(self) -> list[tuple[str, str]]:
        """(Databricks run id, owner) of the active one-time runs the app submitted: the owner is the
        attempt named by the `RUN_ID_TAG` custom tag on their job clusters (what the sweeper weighs)."""
        owned: list[tuple[str, str]] = []
        runs = self._call(
            "runs/list",
            lambda: list(
                self._client.jobs.list_runs(
                    active_only=True, run_type=jobs.RunType.SUBMIT_RUN, expand_tasks=True
                )
            ),
        )
        for run in runs:
            clusters = [t.new_cluster for t in run.tasks or []]
            clusters += [c.new_cluster for c in run.job_clusters or []]
            tags = [c.custom_tags or {} for c in clusters if c is not None]
            owner = next((tag[RUN_ID_TAG] for tag in tags if tag.get(RUN_ID_TAG)), None)
            if owner is not None and run.run_id is not None:
                owned.append((str(run.run_id), owner))
        return owned

    def get_output(self, handle: RunHandle) -> RunOutput:
        _, tasks = self._run_with_all_tasks(int(handle.run_id))
        outputs = []
        for task in tasks:
            if task.run_id is None:
                continue
            task_run_id = task.run_id
            out = self._call(
                "runs/get-output", functools.partial(self._client.jobs.get_run_output, task_run_id)
            )
            logs = out.logs or ""
            truncated = bool(out.logs_truncated)
            if len(logs) > self._log_tail_chars:
                logs, truncated = logs[-self._log_tail_chars :], True
            outputs.append(
                TaskOutput(
                    task_key=task.task_key or str(task_run_id),
                    logs=logs,
                    logs_truncated=truncated,
                    notebook_result=out.notebook_output.result if out.notebook_output else None,
                    error=out.error,
                    error_trace=out.error_trace,
                )
            )
        return RunOutput(run_id=handle.run_id, tasks=outputs)
