"""Cluster jobs on HDInsight: Spark batches through Livy, Hive and MapReduce through WebHCat (Templeton).

The cluster already exists (its definition lives in the job model; creating clusters on demand through
azure-mgmt-hdinsight is not done here). One task per submit: the orchestrator walks the DAG. Livy has no
idempotency token, so the batch `name` carries one; a retried submit that Livy answers with "duplicate
session name" finds the batch it already made. Neither API has a run timeout, so the handle carries a
deadline and `get_state` kills a batch that outlives it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import requests

from jobclusters.services.cluster import (
    LOG_TAIL_CHARS,
    Backend,
    ClusterInfo,
    ClusterJobError,
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
    idempotency_token,
    tail,
)
from jobclusters.services.local_cluster_plan import parse_spark_submit
from jobclusters.services.rate_limit import TokenBucket
from jobclusters.services.retries import (
    BackoffPolicy,
    RetryableError,
    call_with_retries,
    is_transient_status,
    parse_retry_after,
)

T = TypeVar("T")
REQUESTED_BY = "jobclusters"
# Characters of an error answer quoted in the error we raise.
_MESSAGE_CHARS = 500
LIVY_PAYLOADS = ("spark_batch_task", "spark_python_task", "spark_jar_task", "spark_submit_task")

_LIVY_STATES = {
    "not_started": LifeCycle.PENDING,
    "starting": LifeCycle.PENDING,
    "recovering": LifeCycle.PENDING,
    "running": LifeCycle.RUNNING,
    "idle": LifeCycle.RUNNING,
    "busy": LifeCycle.RUNNING,
    "shutting_down": LifeCycle.TERMINATING,
}
_LIVY_RESULTS = {
    "success": ResultState.SUCCESS,
    "dead": ResultState.FAILED,
    "error": ResultState.FAILED,
    "killed": ResultState.CANCELED,
}
_WEBHCAT_RESULTS = {
    "SUCCEEDED": ResultState.SUCCESS,
    "FAILED": ResultState.FAILED,
    "KILLED": ResultState.CANCELED,
}


def _single_task(request: ClusterRunRequest, backend: str) -> ClusterTask:
    if len(request.tasks) != 1:
        raise InvalidRunRequest(f"{backend} runs one task per submit; got {len(request.tasks)}", "$.tasks")
    return request.tasks[0]


def livy_batch(request: ClusterRunRequest, task: ClusterTask, name: str, backend: str) -> dict[str, Any]:
    """The Livy `POST /batches` body for one task (HDInsight and Synapse take the same shape)."""
    path = "$.tasks[0]"
    kind = task.payload_kind
    if kind not in LIVY_PAYLOADS:
        raise InvalidRunRequest(
            f"{backend} Spark batches run {', '.join(LIVY_PAYLOADS)}; not {kind}", f"{path}.{kind}"
        )
    batch: dict[str, Any] = {"name": name}
    conf: dict[str, str] = {}
    jars: list[str] = []
    py_files: list[str] = []
    if task.spark_batch_task is not None:
        given = task.spark_batch_task.model_dump(by_alias=True, exclude_none=True)
        conf.update(given.pop("conf", {}))
        jars.extend(given.pop("jars", []))
        py_files.extend(given.pop("pyFiles", []))
        batch.update({k: v for k, v in given.items() if v != []})
    elif task.spark_python_task is not None:
        batch["file"] = task.spark_python_task.python_file
        batch["args"] = task.spark_python_task.parameters
    elif task.spark_jar_task is not None:
        jar_task = task.spark_jar_task
        task_jars = [lib.jar for lib in task.libraries if lib.jar]
        main_jar = jar_task.jar_uri or (task_jars[0] if task_jars else None)
        if main_jar is None:
            raise InvalidRunRequest("spark_jar_task needs jar_uri or a jar library", f"{path}.spark_jar_task")
        batch.update({"file": main_jar, "className": jar_task.main_class_name, "args": jar_task.parameters})
    elif task.spark_submit_task is not None:
        submit = parse_spark_submit(task.spark_submit_task.parameters, f"{path}.spark_submit_task.parameters")
        batch.update({"file": submit.app, "args": submit.args})
        if submit.main_class:
            batch["className"] = submit.main_class
        conf.update(submit.conf)
        py_files.extend(submit.py_files)
    spec = request.cluster_for(task)
    if spec is not None:
        cluster_conf = {k: v for k, v in spec.spark_conf.items() if k != "spark.master"}
        conf = {**cluster_conf, **conf}
        if spec.autoscale is not None:
            conf.setdefault("spark.dynamicAllocation.enabled", "true")
            conf.setdefault("spark.dynamicAllocation.minExecutors", str(spec.autoscale.min_workers))
            conf.setdefault("spark.dynamicAllocation.maxExecutors", str(spec.autoscale.max_workers))
        elif spec.num_workers:
            batch.setdefault("numExecutors", spec.num_workers)
    packages = []
    for j, lib in enumerate(task.libraries):
        if lib.jar is not None and lib.jar != batch.get("file"):
            jars.append(lib.jar)
        elif lib.whl is not None:
            py_files.append(lib.whl)
        elif lib.maven is not None:
            packages.append(lib.maven.coordinates)
        elif lib.pypi is not None or lib.requirements is not None:
            raise InvalidRunRequest(
                f"{backend} batches cannot install Python packages per job; install them on the cluster/pool",
                f"{path}.libraries[{j}]",
            )
    if packages:
        existing = conf.get("spark.jars.packages")
        conf["spark.jars.packages"] = ",".join([*([existing] if existing else []), *packages])
    if jars:
        batch["jars"] = jars
    if py_files:
        batch["pyFiles"] = py_files
    if conf:
        batch["conf"] = conf
    if not batch.get("args"):
        batch.pop("args", None)
    return batch


def _deadline(request: ClusterRunRequest, task: ClusterTask) -> datetime | None:
    limits = [s for s in (request.timeout_seconds, task.timeout_seconds) if s]
    return datetime.now(tz=UTC) + timedelta(seconds=min(limits)) if limits else None


def past_deadline(handle: RunHandle, now: datetime | None = None) -> bool:
    return handle.deadline is not None and (now or datetime.now(tz=UTC)) > handle.deadline


class HDInsightClusterJobService:
    """Livy at `<cluster>/livy`, WebHCat at `<cluster>/templeton/v1`; basic auth from settings."""

    backend: Backend = "livy"

    def __init__(
        self,
        cluster_url: str,
        username: str,
        password: str,
        *,
        bucket: TokenBucket | None = None,
        policy: BackoffPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        timeout: float = 30.0,
        log_tail_lines: int = 500,
    ) -> None:
        self.cluster_url = cluster_url.rstrip("/")
        self._username = username
        self._session = requests.Session()
        self._session.auth = (username, password)
        self._session.headers.update({"X-Requested-By": REQUESTED_BY, "Accept": "application/json"})
        self._bucket = bucket
        self._policy = policy or BackoffPolicy()
        self._sleep = sleep
        self._timeout = timeout
        self._log_tail_lines = log_tail_lines

    @classmethod
    def from_settings(cls, settings: Any) -> HDInsightClusterJobService:
        from jobclusters.needed_settings import require_service

        require_service("livy", settings)
        url = settings.livy_url.rstrip("/")
        url = url[: -len("/livy")] if url.endswith("/livy") else url
        return cls(
            url,
            settings.livy_username,
            settings.livy_password.get_secret_value(),
            bucket=TokenBucket(rate=10.0, capacity=10.0),
        )

    # ------------------------------------------------------------------------------------------ http

    def _http(self, method: str, path: str, what: str, **kwargs: Any) -> Any:
        url = f"{self.cluster_url}{path}"

        def attempt() -> requests.Response:
            try:
                response = self._session.request(method, url, timeout=self._timeout, **kwargs)
            except requests.ConnectionError as exc:
                raise RetryableError(f"cannot connect: {type(exc).__name__}") from exc
            except requests.Timeout as exc:
                raise RetryableError("timed out") from exc
            if is_transient_status(response.status_code):
                raise RetryableError(
                    f"HTTP {response.status_code}",
                    status=response.status_code,
                    retry_after=parse_retry_after(response.headers.get("Retry-After")),
                )
            return response

        try:
            response = call_with_retries(
                attempt, bucket=self._bucket, policy=self._policy, sleep=self._sleep, what=what
            )
        except RetryableError as exc:
            raise ServiceUnavailable(f"HDInsight {what}: {exc} beyond the retry budget") from exc
        if response.status_code in (401, 403):
            raise ClusterJobError(f"HDInsight {what}: HTTP {response.status_code}: check the cluster login")
        if response.status_code == 404:
            raise RunNotFound(f"HDInsight {what}: not found")
        if response.status_code >= 500:
            raise ServiceUnavailable(f"HDInsight {what}: HTTP {response.status_code}")
        if response.status_code >= 400:
            raise InvalidRunRequest(
                f"HDInsight rejected {what}: HTTP {response.status_code}: {_message(response)}"
            )
        return response.json() if response.content else {}

    # ------------------------------------------------------------------------------------------ submit

    def submit(self, request: ClusterRunRequest, idempotency_key: str) -> RunHandle:
        task = _single_task(request, "HDInsight")
        name = idempotency_token(idempotency_key)
        deadline = _deadline(request, task)
        if task.hive_task is not None or task.mapreduce_task is not None:
            job_id = self._submit_webhcat(task, name)
            return RunHandle(
                backend="livy", run_id=job_id, idempotency_key=idempotency_key, deadline=deadline
            )
        body = livy_batch(request, task, name, "HDInsight")
        try:
            batch = self._http("POST", "/livy/batches", "POST /livy/batches", json=body)
        except InvalidRunRequest as exc:
            if "duplicate" not in str(exc).lower():
                raise
            batch = self._find_batch(name)
        return RunHandle(
            backend="livy", run_id=f"batch:{batch['id']}", idempotency_key=idempotency_key, deadline=deadline
        )

    def _find_batch(self, name: str) -> dict[str, Any]:
        start = 0
        while True:
            page = self._http(
                "GET", "/livy/batches", "GET /livy/batches", params={"from": start, "size": 100}
            )
            sessions = page.get("sessions") or []
            for batch in sessions:
                if batch.get("name") == name:
                    return dict(batch)
            start += len(sessions)
            if not sessions or start >= int(page.get("total", 0)):
                raise InvalidRunRequest(
                    f"Livy reported a duplicate batch name {name!r} but lists no such batch"
                )

    def _submit_webhcat(self, task: ClusterTask, name: str) -> str:
        form: list[tuple[str, str]] = [("user.name", self._username)]
        if task.hive_task is not None:
            hive = task.hive_task
            form.append(("execute", hive.query) if hive.query is not None else ("file", hive.file or ""))
            form += [("define", f"{k}={v}") for k, v in hive.defines.items()]
            form += [("arg", a) for a in hive.arguments]
            form.append(("statusdir", hive.status_dir or f"/jobclusters/status/{name}"))
            path, kind = "/templeton/v1/hive", "hive"
        else:
            assert task.mapreduce_task is not None
            mr = task.mapreduce_task
            form += [("jar", mr.jar), ("class", mr.class_name)]
            if mr.libjars:
                form.append(("libjars", ",".join(mr.libjars)))
            form += [("arg", a) for a in mr.args]
            form += [("define", f"{k}={v}") for k, v in mr.defines.items()]
            form.append(("statusdir", mr.status_dir or f"/jobclusters/status/{name}"))
            path, kind = "/templeton/v1/mapreduce/jar", "mapreduce"
        answer = self._http("POST", path, f"POST {path}", data=form)
        if not answer.get("id"):
            raise ServiceUnavailable(f"WebHCat answered {path} without a job id")
        return f"{kind}:{answer['id']}"

    # ------------------------------------------------------------------------------------------ state

    @staticmethod
    def _split(handle: RunHandle) -> tuple[str, str]:
        kind, _, ident = handle.run_id.partition(":")
        if kind not in ("batch", "hive", "mapreduce") or not ident:
            raise RunNotFound(f"not an HDInsight run id: {handle.run_id!r}")
        return kind, ident

    def get_state(self, handle: RunHandle) -> RunState:
        kind, ident = self._split(handle)
        state = self._livy_state(handle, ident) if kind == "batch" else self._webhcat_state(handle, ident)
        if not state.terminal and past_deadline(handle):
            self.cancel(handle)
            state.life_cycle, state.result = LifeCycle.TERMINATED, ResultState.TIMEDOUT
            state.message = f"timed out at {handle.deadline.isoformat() if handle.deadline else ''}; killed"
        return state

    def _livy_state(self, handle: RunHandle, batch_id: str) -> RunState:
        batch = self._http("GET", f"/livy/batches/{batch_id}", "GET /livy/batches/{id}")
        livy_state = str(batch.get("state", "not_started"))
        info = batch.get("appInfo") or {}
        cluster = ClusterInfo(cluster_id=batch.get("appId"), spark_ui_url=info.get("sparkUiUrl"))
        result = _LIVY_RESULTS.get(livy_state)
        if result is not None:
            message = "" if result is ResultState.SUCCESS else f"Livy batch ended {livy_state}"
            lines = [line for line in batch.get("log") or [] if line.strip()]
            if result is ResultState.FAILED and lines:
                message = f"{message}: {lines[-1].strip()}"
            return RunState(
                run_id=handle.run_id,
                life_cycle=LifeCycle.TERMINATED,
                result=result,
                message=message,
                cluster=cluster,
            )
        life = _LIVY_STATES.get(livy_state, LifeCycle.PENDING)
        return RunState(run_id=handle.run_id, life_cycle=life, message=f"Livy: {livy_state}", cluster=cluster)

    def _webhcat_state(self, handle: RunHandle, job_id: str) -> RunState:
        job = self._http(
            "GET",
            f"/templeton/v1/jobs/{job_id}",
            "GET /templeton/v1/jobs/{id}",
            params={"user.name": self._username},
        )
        status = job.get("status") or {}
        name = str(status.get("state", "PREP"))
        start = status.get("startTime")
        started = datetime.fromtimestamp(start / 1000, tz=UTC) if start else None
        result = _WEBHCAT_RESULTS.get(name)
        if result is None:
            life = LifeCycle.RUNNING if name == "RUNNING" else LifeCycle.PENDING
            return RunState(
                run_id=handle.run_id, life_cycle=life, message=f"WebHCat: {name}", start_time=started
            )
        exit_value = job.get("exitValue")
        if result is ResultState.SUCCESS and exit_value not in (None, 0):
            result = ResultState.FAILED
        finish = status.get("finishTime")
        message = "" if result is ResultState.SUCCESS else f"WebHCat job {name}, exit value {exit_value}"
        if status.get("failureInfo") and status["failureInfo"] != "NA":
            message = f"{message}: {status['failureInfo']}"
        return RunState(
            run_id=handle.run_id,
            life_cycle=LifeCycle.TERMINATED,
            result=result,
            message=message,
            start_time=started,
            end_time=datetime.fromtimestamp(finish / 1000, tz=UTC) if finish else None,
        )

    def cancel(self, handle: RunHandle) -> None:
        kind, ident = self._split(handle)
        if kind == "batch":
            self._http("DELETE", f"/livy/batches/{ident}", "DELETE /livy/batches/{id}")
        else:
            self._http(
                "DELETE",
                f"/templeton/v1/jobs/{ident}",
                "DELETE /templeton/v1/jobs/{id}",
                params={"user.name": self._username},
            )

    def get_output(self, handle: RunHandle) -> RunOutput:
        kind, ident = self._split(handle)
        if kind != "batch":
            note = "WebHCat keeps stdout/stderr in the job's statusdir on the cluster storage"
            return RunOutput(run_id=handle.run_id, tasks=[TaskOutput(task_key=kind, logs=note)])
        # Without `from`, Livy answers the last `size` lines: the tail in one call.
        page = self._http(
            "GET",
            f"/livy/batches/{ident}/log",
            "GET /livy/batches/{id}/log",
            params={"size": self._log_tail_lines},
        )
        text, cut = tail("\n".join(page.get("log") or []), LOG_TAIL_CHARS)
        earlier = int(page.get("from", 0)) > 0
        return RunOutput(
            run_id=handle.run_id,
            tasks=[TaskOutput(task_key="batch", logs=text, logs_truncated=cut or earlier)],
        )


def _message(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:_MESSAGE_CHARS]
    if isinstance(body, dict):
        return str(body.get("msg") or body.get("message") or body.get("error") or body)[:_MESSAGE_CHARS]
    return str(body)[:_MESSAGE_CHARS]
