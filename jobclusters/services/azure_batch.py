"""BatchService on Azure Batch through the azure-batch 15.x `BatchClient` (azure-core based).

Request bodies are the REST JSON our models dump to, wrapped in the SDK's mapping-based models, so what
goes on the wire is exactly the documented shape. Retries are ours (`retries.call_with_retries`), not the
pipeline's: the pipeline does not retry POST on 429, and one place that honours `Retry-After` keeps the
behaviour easy to reason about.
Re-sending is always safe because every id is deterministic and `*Exists` answers count as success.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar, cast

from azure.batch import BatchClient
from azure.batch import models as batch_models
from azure.core.credentials import AzureNamedKeyCredential, TokenCredential
from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError
from azure.core.rest import HttpRequest

from jobclusters.services.batch import (
    MAX_REQUEST_BYTES,
    MAX_TASKS_PER_REQUEST,
    OWNER_METADATA_KEY,
    AddTasksResult,
    AutoPoolSpecification,
    BatchServiceError,
    FailedTask,
    JobSpec,
    OwnedPool,
    PoolPlacement,
    PoolRef,
    PoolSpec,
    TaskAddFailure,
    TaskCounts,
    TaskSpec,
    WorkSpan,
    resolve_environment,
)
from jobclusters.services.retries import (
    BackoffPolicy,
    RetryableError,
    call_with_retries,
    is_transient_status,
    parse_retry_after,
)
from jobclusters.settings import Settings

log = logging.getLogger(__name__)
# One spelling for failure categories whichever api-version answered (lower case since 2025-06-01).
_CATEGORIES = {"usererror": "UserError", "servererror": "ServerError"}
# Headroom under the 1 MB limit for the `{"value": [...]}` envelope and separators.
_ENVELOPE_BYTES = 64
_T = TypeVar("_T")


# Many attempts and no time budget: Batch calls sit in activities that may take their time, and re-sending
# is safe; a server's Retry-After is honoured up to the longest backoff.
BATCH_RETRIES = BackoffPolicy(max_attempts=8, budget_seconds=None, max_retry_after=30.0)


def task_body(task: TaskSpec) -> dict[str, Any]:
    """The REST task body with `secretRef` settings resolved to values at the last moment."""
    body = task.to_rest()
    if task.environment_settings:
        body["environmentSettings"] = resolve_environment(task.environment_settings)
    return body


def encoded_size(body: dict[str, Any]) -> int:
    """Bytes this body takes in the request, encoded as the SDK encodes it (json.dumps defaults)."""
    return len(json.dumps(body).encode())


def chunk_tasks(
    bodies: Sequence[dict[str, Any]],
    *,
    max_count: int = MAX_TASKS_PER_REQUEST,
    max_bytes: int = MAX_REQUEST_BYTES,
) -> Iterator[list[dict[str, Any]]]:
    """Group task bodies in order into requests of at most `max_count` tasks and under `max_bytes`.

    A single task too large for any request is yielded alone; the service answers RequestBodyTooLarge
    for it and `add_tasks` reports it as failed.
    """
    chunk: list[dict[str, Any]] = []
    size = _ENVELOPE_BYTES
    for body in bodies:
        item = encoded_size(body) + 2
        if chunk and (len(chunk) >= max_count or size + item >= max_bytes):
            yield chunk
            chunk, size = [], _ENVELOPE_BYTES
        chunk.append(body)
        size += item
    if chunk:
        yield chunk


def _text(value: object) -> str | None:
    """An SDK enum or a plain string as the service's string."""
    if value is None:
        return None
    return str(getattr(value, "value", value))


def _error_code(exc: HttpResponseError) -> str:
    error = getattr(exc, "error", None)
    code = getattr(error, "code", None)
    return str(code or exc.reason or exc.status_code)


def _retry_after(exc: HttpResponseError) -> float | None:
    headers = getattr(exc.response, "headers", None) or {}
    return parse_retry_after(headers.get("Retry-After"))


class AzureBatchService:
    """BatchService against a Batch account; one instance per host process is enough (thread-safe)."""

    def __init__(
        self,
        endpoint: str,
        credential: AzureNamedKeyCredential | TokenCredential,
        *,
        parallelism: int = 8,
        retry: BackoffPolicy | None = None,
        client: BatchClient | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client or BatchClient(
            endpoint=endpoint,
            credential=credential,
            retry_total=0,
            connection_timeout=30,
            read_timeout=60,
        )
        self._parallelism = max(1, parallelism)
        self._retry = retry or BATCH_RETRIES
        self._sleep = sleep

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> AzureBatchService:
        from jobclusters.needed_settings import require_service

        require_service("batch", settings)
        assert settings.batch_account_url is not None
        credential: AzureNamedKeyCredential | TokenCredential
        if settings.batch_account_key is not None:
            assert settings.batch_account_name is not None
            credential = AzureNamedKeyCredential(
                settings.batch_account_name, settings.batch_account_key.get_secret_value()
            )
        else:
            from azure.identity import DefaultAzureCredential

            credential = DefaultAzureCredential()
        return cls(settings.batch_account_url, credential, **kwargs)

    def close(self) -> None:
        self._client.close()

    # -- retries ---------------------------------------------------------------------------------------
    def _call(self, what: str, fn: Callable[[], _T]) -> _T:
        def attempt() -> _T:
            try:
                return fn()
            except HttpResponseError as exc:
                status = exc.status_code or 0
                if not is_transient_status(status):
                    raise BatchServiceError(_error_code(exc), f"{what} failed", status) from exc
                raise RetryableError(f"HTTP {status}", status=status, retry_after=_retry_after(exc)) from exc
            except (ServiceRequestError, ServiceResponseError) as exc:
                raise RetryableError(f"{type(exc).__name__}: {exc}") from exc

        try:
            return call_with_retries(attempt, policy=self._retry, sleep=self._sleep, what=f"batch {what}")
        except RetryableError as exc:
            cause = exc.__cause__
            if isinstance(cause, HttpResponseError):
                raise BatchServiceError(_error_code(cause), f"{what} failed", exc.status or 0) from cause
            raise BatchServiceError("ConnectionError", f"{what} failed: {cause}") from cause

    def _raw(self, method: str, path: str) -> None:
        request = HttpRequest(method, path, params={"api-version": self._client._config.api_version})

        def send() -> None:
            response = self._client.send_request(request)
            response.raise_for_status()

        self._call(f"{method} {path}", send)

    # -- pools -----------------------------------------------------------------------------------------
    def ensure_pool(self, placement: PoolPlacement, *, owner: str) -> PoolRef:
        if placement.mode == "existing":
            assert placement.pool_id is not None
            pool = self._call("get pool", lambda: self._client.get_pool(placement.pool_id))  # type: ignore[arg-type]
            dedicated = pool.target_dedicated_nodes or 0
            spot = pool.target_low_priority_nodes or 0
            return PoolRef(
                mode="existing",
                pool_id=placement.pool_id,
                vm_size=pool.vm_size,
                node_count=dedicated + spot,
                low_priority=spot > 0,
            )
        assert placement.pool is not None
        spec = placement.pool
        if placement.mode == "autoPool":
            body = self._pool_body(spec)
            body.pop("id", None)
            auto = AutoPoolSpecification(
                auto_pool_id_prefix=placement.auto_pool_id_prefix, keep_alive=placement.keep_alive, pool=body
            )
            return PoolRef(
                mode="autoPool",
                auto_pool_specification=auto,
                vm_size=spec.vm_size,
                node_count=spec.node_count,
                low_priority=bool(spec.target_low_priority_nodes),
            )
        owned = spec.with_owner(owner)
        created = self._create_pool(owned)
        if not created:
            existing = self._call("get pool", lambda: self._client.get_pool(spec.id))
            metadata = {m.name: m.value for m in (existing.metadata or [])}
            created = metadata.get(owned.metadata[-1].name) == owner
        return PoolRef(
            mode="onDemand",
            pool_id=spec.id,
            created=created,
            vm_size=spec.vm_size,
            node_count=spec.node_count,
            low_priority=bool(spec.target_low_priority_nodes),
        )

    @staticmethod
    def _pool_body(spec: PoolSpec) -> dict[str, Any]:
        body = spec.to_rest()
        if spec.start_task is not None and spec.start_task.environment_settings:
            body["startTask"]["environmentSettings"] = resolve_environment(
                spec.start_task.environment_settings
            )
        return body

    def _create_pool(self, spec: PoolSpec) -> bool:
        options = batch_models.BatchPoolCreateOptions(self._pool_body(spec))
        try:
            self._call("create pool", lambda: self._client.create_pool(options))
        except BatchServiceError as exc:
            if exc.code == "PoolExists":
                return False
            raise
        return True

    def delete_pool(self, ref: PoolRef) -> bool:
        if ref.mode != "onDemand" or not ref.created or ref.pool_id is None:
            return False
        try:
            self._raw("DELETE", f"/pools/{ref.pool_id}")
        except BatchServiceError as exc:
            if exc.code in ("PoolNotFound", "PoolBeingDeleted"):
                return True
            raise
        return True

    def list_owned_pools(self) -> list[OwnedPool]:
        """Pools carrying the owner metadata, page by page (`odata.nextLink`)."""
        owned: list[OwnedPool] = []
        url: str | None = "/pools"
        params: dict[str, str] | None = {"$select": "id,metadata"}
        while url is not None:
            page = self._get_json(url, params)
            for pool in page.get("value", []):
                metadata = {m.get("name"): m.get("value") for m in pool.get("metadata") or []}
                owner = metadata.get(OWNER_METADATA_KEY)
                if owner:
                    owned.append(OwnedPool(pool_id=pool["id"], owner=owner))
            url, params = page.get("odata.nextLink"), None
        return owned

    def get_pool_nodes(self, pool_id: str) -> int | None:
        try:
            pool = self._get_json(
                f"/pools/{pool_id}", {"$select": "id,currentDedicatedNodes,currentLowPriorityNodes"}
            )
        except BatchServiceError as exc:
            if exc.code == "PoolNotFound":
                return None
            raise
        return int(pool.get("currentDedicatedNodes") or 0) + int(pool.get("currentLowPriorityNodes") or 0)

    def _get_json(self, url: str, params: dict[str, str] | None) -> dict[str, Any]:
        """A GET answered with JSON; a `nextLink` (params None) carries its own query."""
        if params is None:
            request = HttpRequest("GET", url)
        else:
            version = self._client._config.api_version
            request = HttpRequest("GET", url, params={"api-version": version, **params})

        def send() -> dict[str, Any]:
            response = self._client.send_request(request)
            response.raise_for_status()
            return cast(dict[str, Any], response.json())

        return self._call(f"GET {url}", send)

    # -- jobs ------------------------------------------------------------------------------------------
    def create_job(self, job: JobSpec) -> None:
        body = job.to_rest()
        for key, model in (
            ("jobManagerTask", job.job_manager_task),
            ("jobPreparationTask", job.job_preparation_task),
            ("jobReleaseTask", job.job_release_task),
        ):
            if model is not None and model.environment_settings:
                body[key]["environmentSettings"] = resolve_environment(model.environment_settings)
        if job.common_environment_settings:
            body["commonEnvironmentSettings"] = resolve_environment(job.common_environment_settings)
        options = batch_models.BatchJobCreateOptions(body)
        try:
            self._call("create job", lambda: self._client.create_job(options))
        except BatchServiceError as exc:
            if exc.code != "JobExists":
                raise

    def terminate_job(self, job_id: str) -> None:
        try:
            self._raw("POST", f"/jobs/{job_id}/terminate")
        except BatchServiceError as exc:
            if exc.code not in ("JobCompleted", "JobTerminating", "JobNotFound"):
                raise

    def delete_job(self, job_id: str) -> None:
        try:
            self._raw("DELETE", f"/jobs/{job_id}")
        except BatchServiceError as exc:
            if exc.code not in ("JobNotFound", "JobBeingDeleted"):
                raise

    # -- tasks -----------------------------------------------------------------------------------------
    def add_tasks(self, job_id: str, tasks: Sequence[TaskSpec]) -> AddTasksResult:
        ids = [t.id for t in tasks]
        if len(set(ids)) != len(ids):
            raise ValueError("task ids must be unique within one add_tasks call")
        bodies = [task_body(t) for t in tasks]
        pending: deque[list[dict[str, Any]]] = deque(chunk_tasks(bodies))
        added: list[str] = []
        failed: list[TaskAddFailure] = []
        lock = threading.Lock()

        def submit(chunk: list[dict[str, Any]]) -> None:
            outcome = self._add_chunk(job_id, chunk)
            with lock:
                added.extend(outcome.added)
                failed.extend(outcome.failed)

        with ThreadPoolExecutor(max_workers=self._parallelism, thread_name_prefix="batch-add") as pool:
            list(pool.map(submit, pending))
        order = {tid: i for i, tid in enumerate(ids)}
        added.sort(key=order.__getitem__)
        return AddTasksResult(added=added, failed=failed)

    def _add_chunk(self, job_id: str, chunk: list[dict[str, Any]]) -> AddTasksResult:
        """Send one chunk; split it on RequestBodyTooLarge; resend tasks the service answered ServerError."""
        result = AddTasksResult()
        todo: deque[list[dict[str, Any]]] = deque([chunk])
        server_error_rounds = 0
        while todo:
            part = todo.popleft()
            try:
                results = self._call("add tasks", lambda p=part: self._post_task_collection(job_id, p))  # type: ignore[misc]
            except BatchServiceError as exc:
                if exc.code == "RequestBodyTooLarge" and len(part) > 1:
                    half = len(part) // 2
                    todo.extendleft([part[half:], part[:half]])
                    continue
                if exc.code == "RequestBodyTooLarge":
                    result.failed.append(
                        TaskAddFailure(
                            task_id=part[0]["id"],
                            code=exc.code,
                            message="task body exceeds the request size limit",
                        )
                    )
                    continue
                raise
            retry: list[dict[str, Any]] = []
            by_id = {b["id"]: b for b in part}
            for item in results:
                error = item.get("error") or {}
                code = error.get("code")
                task_id = str(item.get("taskId", ""))
                # Spelled "success"/"clienterror"/"servererror" since 2025-06-01, camelCase before.
                status = str(item.get("status", "")).lower()
                if status == "success" or code == "TaskExists":
                    result.added.append(task_id)
                elif status == "servererror" and task_id in by_id:
                    retry.append(by_id[task_id])
                else:
                    message = (error.get("message") or {}).get("value") or ""
                    result.failed.append(
                        TaskAddFailure(task_id=task_id, code=code or "ClientError", message=message)
                    )
            if retry:
                server_error_rounds += 1
                if server_error_rounds >= self._retry.max_attempts:
                    result.failed.extend(
                        TaskAddFailure(
                            task_id=b["id"], code="ServerError", message="service kept answering ServerError"
                        )
                        for b in retry
                    )
                else:
                    self._sleep(self._retry.backoff(server_error_rounds + 1))
                    todo.append(retry)
        return result

    def _post_task_collection(self, job_id: str, bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """POST /jobs/{id}/addtaskcollection through the SDK operation, with the REST JSON as is.

        The body and the per-task results stay plain JSON: wrapping 100 task bodies in the SDK's
        mapping models costs more CPU than the request itself.
        """
        response = self._client.create_task_collection(
            job_id,
            cast(Any, {"value": bodies}),
            cls=lambda pipeline_response, _deserialized, _headers: pipeline_response.http_response,
        )
        return list(cast(Any, response).json().get("value", []))

    def get_task_counts(self, job_id: str) -> TaskCounts:
        result = self._call("get task counts", lambda: self._client.get_job_task_counts(job_id))
        c = result.task_counts
        return TaskCounts(
            active=c.active, running=c.running, completed=c.completed, succeeded=c.succeeded, failed=c.failed
        )

    def get_work_span(self, job_id: str) -> WorkSpan:
        def fetch() -> WorkSpan:
            pages = self._client.list_tasks(job_id, select=["id", "executionInfo"])
            infos = [task.execution_info for task in pages]
            return WorkSpan.of((i.start_time, i.end_time) for i in infos if i is not None)

        return self._call("list task times", fetch)

    def list_failed_tasks(self, job_id: str) -> list[FailedTask]:
        def fetch() -> list[FailedTask]:
            out: list[FailedTask] = []
            pages = self._client.list_tasks(
                job_id,
                filter="state eq 'completed' and executionInfo/result eq 'failure'",
                select=["id", "url", "executionInfo", "nodeInfo"],
            )
            for task in pages:
                info = task.execution_info
                failure = info.failure_info if info is not None else None
                node = task.node_info
                out.append(
                    FailedTask(
                        task_id=task.id or "",
                        exit_code=info.exit_code if info is not None else None,
                        category=_CATEGORIES.get((_text(failure.category) or "").lower())
                        if failure is not None
                        else None,
                        code=failure.code if failure is not None else None,
                        message=failure.message if failure is not None else None,
                        retry_count=info.retry_count
                        if info is not None and info.retry_count is not None
                        else 0,
                        requeue_count=info.requeue_count
                        if info is not None and info.requeue_count is not None
                        else 0,
                        node_id=node.node_id if node is not None else None,
                        start_time=info.start_time if info is not None else None,
                        end_time=info.end_time if info is not None else None,
                        log_urls={n: f"{task.url}/files/{n}" for n in ("stdout.txt", "stderr.txt")}
                        if task.url
                        else {},
                    )
                )
            return out

        return self._call("list failed tasks", fetch)
