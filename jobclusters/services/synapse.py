"""Cluster jobs on Synapse: Spark batch jobs on a Spark pool through azure-synapse-spark's `SparkClient`.

The batch body is the Livy one (shared with HDInsight) plus what the pool settings give a batch: the
pool's `sparkConfigProperties` under the job's conf, driver/executor sizes from `nodeSize`, executors from
`nodeCount` or `autoScale` (as dynamic allocation). `autoPause` and `libraryRequirements` are properties of
the pool itself (management plane), which the batch API does not take: they are checked, not sent.
Throttling, 5xx and connection retries are `retries.call_with_retries` (the client's own retries are
off); the token bucket sits in front of every attempt and pauses on a server's Retry-After.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.synapse.spark import SparkClient
from azure.synapse.spark.models import SparkBatchJob, SparkBatchJobOptions

from jobclusters.services.cluster import (
    LOG_TAIL_CHARS,
    Backend,
    ClusterInfo,
    ClusterJobError,
    ClusterRunRequest,
    InvalidRunRequest,
    LifeCycle,
    ResultState,
    RunHandle,
    RunNotFound,
    RunOutput,
    RunState,
    ServiceUnavailable,
    SparkPoolSettings,
    TaskOutput,
    idempotency_token,
    tail,
)
from jobclusters.services.databricks import RUN_ID_TAG
from jobclusters.services.livy import (
    _LIVY_RESULTS,
    _LIVY_STATES,
    _deadline,
    _single_task,
    livy_batch,
    past_deadline,
)
from jobclusters.services.rate_limit import TokenBucket
from jobclusters.services.retries import (
    BackoffPolicy,
    RetryableError,
    call_with_retries,
    is_transient_status,
    parse_retry_after,
)

T = TypeVar("T")

# vCores and memory of one node per Synapse node size; the driver and each executor get one node's worth.
NODE_SIZES = {
    "Small": (4, "28g"),
    "Medium": (8, "56g"),
    "Large": (16, "112g"),
    "XLarge": (32, "224g"),
    "XXLarge": (64, "400g"),
    "XXXLarge": (80, "504g"),
}
# Characters of a rejection's detail quoted in the error we raise.
_DETAIL_CHARS = 500
_RESULTS = {"Succeeded": ResultState.SUCCESS, "Failed": ResultState.FAILED, "Cancelled": ResultState.CANCELED}


def synapse_batch(request: ClusterRunRequest, idempotency_key: str) -> SparkBatchJobOptions:
    task = _single_task(request, "Synapse")
    body = livy_batch(request, task, idempotency_token(idempotency_key), "Synapse")
    pool = request.spark_pool or SparkPoolSettings.model_validate({})
    conf = {**pool.spark_config_properties, **body.get("conf", {})}
    cores, memory = NODE_SIZES[pool.node_size]
    executors = body.get("numExecutors")
    if pool.auto_scale is not None and pool.auto_scale.enabled:
        low = max(1, pool.auto_scale.min_node_count - 1)
        high = max(low, pool.auto_scale.max_node_count - 1)
        conf.setdefault("spark.dynamicAllocation.enabled", "true")
        conf.setdefault("spark.dynamicAllocation.minExecutors", str(low))
        conf.setdefault("spark.dynamicAllocation.maxExecutors", str(high))
        executors = executors or low
    elif executors is None and pool.node_count:
        executors = max(1, pool.node_count - 1)
    return SparkBatchJobOptions(
        name=body["name"],
        file=body["file"],
        class_name=body.get("className"),
        arguments=body.get("args"),
        jars=body.get("jars"),
        python_files=body.get("pyFiles"),
        files=body.get("files"),
        archives=body.get("archives"),
        configuration=conf or None,
        driver_memory=body.get("driverMemory", memory),
        driver_cores=body.get("driverCores", cores),
        executor_memory=body.get("executorMemory", memory),
        executor_cores=body.get("executorCores", cores),
        executor_count=executors or 2,
        tags={**request.tags, RUN_ID_TAG: request.run_id},
    )


class SynapseClusterJobService:
    backend: Backend = "synapse"

    def __init__(
        self,
        endpoint: str,
        spark_pool: str,
        *,
        credential: Any = None,
        bucket: TokenBucket | None = None,
        policy: BackoffPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        allow_http: bool = False,
        livy_api_version: str = "2019-11-01-preview",
    ) -> None:
        if credential is None:
            from azure.identity import DefaultAzureCredential

            credential = DefaultAzureCredential()
        self.endpoint = endpoint
        self.default_pool = spark_pool
        self._credential = credential
        self._bucket = bucket
        self._policy = policy or BackoffPolicy()
        self._sleep = sleep
        self._clock = clock
        self._client_options: dict[str, Any] = {"retry_total": 0, "livy_api_version": livy_api_version}
        self._call_options: dict[str, Any] = {"enforce_https": False} if allow_http else {}
        self._clients: dict[str, SparkClient] = {}

    @classmethod
    def from_settings(cls, settings: Any, *, credential: Any = None) -> SynapseClusterJobService:
        from jobclusters.needed_settings import require_service

        require_service("synapse", settings)
        return cls(
            settings.synapse_endpoint,
            settings.synapse_spark_pool,
            credential=credential,
            bucket=TokenBucket(rate=10.0, capacity=10.0),
        )

    def _client(self, pool: str) -> SparkClient:
        if pool not in self._clients:
            self._clients[pool] = SparkClient(self._credential, self.endpoint, pool, **self._client_options)
        return self._clients[pool]

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        def attempt() -> T:
            try:
                return fn()
            except (ServiceRequestError, ServiceResponseError) as exc:
                raise RetryableError(f"{type(exc).__name__}: {exc}") from exc
            except HttpResponseError as exc:
                status = exc.status_code or 0
                if not is_transient_status(status):
                    raise
                headers = getattr(exc.response, "headers", None) or {}
                retry_after = parse_retry_after(headers.get("Retry-After"))
                raise RetryableError(f"HTTP {status}", status=status, retry_after=retry_after) from exc

        try:
            return call_with_retries(
                attempt,
                policy=self._policy,
                bucket=self._bucket,
                sleep=self._sleep,
                clock=self._clock,
                what=f"Synapse {what}",
            )
        except RetryableError as exc:
            cause = exc.__cause__
            if exc.status is None:
                raise ServiceUnavailable(f"Synapse {what}: {exc}") from cause
            raise ServiceUnavailable(f"Synapse {what}: HTTP {exc.status} beyond the retry budget") from cause
        except ResourceNotFoundError as exc:
            raise RunNotFound(f"Synapse {what}: not found") from exc
        except ClientAuthenticationError as exc:
            raise ClusterJobError(f"Synapse {what}: authentication failed (HTTP {exc.status_code})") from exc
        except HttpResponseError as exc:
            status = exc.status_code or 0
            if status >= 500:
                raise ServiceUnavailable(f"Synapse {what}: HTTP {status}") from exc
            detail = exc.message or str(exc)
            raise InvalidRunRequest(
                f"Synapse rejected {what}: HTTP {status}: {detail[:_DETAIL_CHARS]}"
            ) from exc

    # Handles name the pool: "<pool>/<batch id>", so one service serves several pools.
    @staticmethod
    def _split(handle: RunHandle) -> tuple[str, int]:
        pool, _, ident = handle.run_id.rpartition("/")
        if not pool or not ident.isdigit():
            raise RunNotFound(f"not a Synapse run id: {handle.run_id!r}")
        return pool, int(ident)

    def submit(self, request: ClusterRunRequest, idempotency_key: str) -> RunHandle:
        options = synapse_batch(request, idempotency_key)
        pool = (request.spark_pool.pool_name if request.spark_pool else None) or self.default_pool
        client = self._client(pool)
        job = self._find_batch(client, options.name) or self._call(
            "create batch",
            lambda: client.spark_batch.create_spark_batch_job(options, detailed=True, **self._call_options),
        )
        return RunHandle(
            backend="synapse",
            run_id=f"{pool}/{job.id}",
            idempotency_key=idempotency_key,
            deadline=_deadline(request, request.tasks[0]),
        )

    def _find_batch(self, client: SparkClient, name: str, limit: int = 1000) -> SparkBatchJob | None:
        """No idempotency token in the batch API: the batch name carries it, so a resubmit finds its batch."""
        start = 0
        while start < limit:
            page = self._call(
                "list batches",
                functools.partial(
                    client.spark_batch.get_spark_batch_jobs,
                    from_parameter=start,
                    size=100,
                    **self._call_options,
                ),
            )
            sessions = page.sessions or []
            for job in sessions:
                if job.name == name:
                    return job
            start += len(sessions)
            if not sessions or start >= (page.total or 0):
                return None
        return None

    def _job(self, handle: RunHandle) -> SparkBatchJob:
        pool, batch_id = self._split(handle)
        client = self._client(pool)
        return self._call(
            "get batch",
            lambda: client.spark_batch.get_spark_batch_job(batch_id, detailed=True, **self._call_options),
        )

    def get_state(self, handle: RunHandle) -> RunState:
        job = self._job(handle)
        livy_state = str(job.state or "not_started")
        scheduler, livy = job.scheduler, job.livy_info
        start = (livy.running_at if livy else None) or (scheduler.scheduled_at if scheduler else None)
        livy_end = (livy.success_at or livy.dead_at or livy.terminated_at) if livy else None
        end = livy_end or (scheduler.ended_at if scheduler else None)
        cluster = ClusterInfo(cluster_id=job.app_id, spark_ui_url=(job.app_info or {}).get("sparkUiUrl"))
        errors = "; ".join(e.message for e in job.errors or [] if e.message)
        result = _LIVY_RESULTS.get(livy_state)
        if result is not None:
            result = _RESULTS.get(str(job.result), result)
            message = errors or ("" if result is ResultState.SUCCESS else f"Synapse batch ended {livy_state}")
            state = RunState(
                run_id=handle.run_id,
                life_cycle=LifeCycle.TERMINATED,
                result=result,
                message=message,
                start_time=start,
                end_time=end,
                cluster=cluster,
            )
        else:
            life = _LIVY_STATES.get(livy_state, LifeCycle.PENDING)
            state = RunState(
                run_id=handle.run_id,
                life_cycle=life,
                message=f"Synapse: {livy_state}",
                start_time=start,
                cluster=cluster,
            )
        if not state.terminal and past_deadline(handle):
            self.cancel(handle)
            state.life_cycle, state.result = LifeCycle.TERMINATED, ResultState.TIMEDOUT
            state.message = "timed out; the batch was cancelled"
            state.end_time = datetime.now(tz=UTC)
        return state

    def cancel(self, handle: RunHandle) -> None:
        pool, batch_id = self._split(handle)
        client = self._client(pool)
        self._call(
            "cancel batch", lambda: client.spark_batch.cancel_spark_batch_job(batch_id, **self._call_options)
        )

    def get_output(self, handle: RunHandle) -> RunOutput:
        job = self._job(handle)
        text, cut = tail("\n".join(job.log_lines or []), LOG_TAIL_CHARS)
        errors = "; ".join(e.message for e in job.errors or [] if e.message) or None
        return RunOutput(
            run_id=handle.run_id,
            tasks=[TaskOutput(task_key="batch", logs=text, logs_truncated=cut, error=errors)],
        )
