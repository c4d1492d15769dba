"""A loopback HTTP server speaking the documented Azure Batch REST API (data plane), for tests and bench.

It checks what a client sends (method, path, `api-version`, content type, SharedKey signature, body
fields and limits) and answers with the documented JSON shapes, including the documented error body
`{"odata.metadata", "code", "message": {"lang", "value"}}`. Anything a real service would reject is
answered with the matching error and also recorded in `violations`, so a test can assert a client never
sent an invalid request. Faults (429 with Retry-After, 5xx, 413) and per-request latency are injectable.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

API_VERSIONS = frozenset({"2024-07-01.20.0", "2025-06-01"})
MAX_TASKS = 100
MAX_BODY = 1024 * 1024
ACCOUNT = "fakebatch"
ACCOUNT_KEY = base64.b64encode(b"loopback-test-key-not-a-secret!!").decode()

POOL_FIELDS = {
    "id",
    "displayName",
    "vmSize",
    "virtualMachineConfiguration",
    "cloudServiceConfiguration",
    "resizeTimeout",
    "resourceTags",
    "targetDedicatedNodes",
    "targetLowPriorityNodes",
    "enableAutoScale",
    "autoScaleFormula",
    "autoScaleEvaluationInterval",
    "enableInterNodeCommunication",
    "networkConfiguration",
    "startTask",
    "certificateReferences",
    "applicationPackageReferences",
    "taskSlotsPerNode",
    "taskSchedulingPolicy",
    "userAccounts",
    "metadata",
    "mountConfiguration",
    "targetNodeCommunicationMode",
    "upgradePolicy",
}
JOB_FIELDS = {
    "id",
    "displayName",
    "priority",
    "maxParallelTasks",
    "allowTaskPreemption",
    "constraints",
    "jobManagerTask",
    "jobPreparationTask",
    "jobReleaseTask",
    "commonEnvironmentSettings",
    "poolInfo",
    "onAllTasksComplete",
    "onTaskFailure",
    "metadata",
    "usesTaskDependencies",
    "networkConfiguration",
}
TASK_FIELDS = {
    "id",
    "displayName",
    "exitConditions",
    "commandLine",
    "containerSettings",
    "resourceFiles",
    "outputFiles",
    "environmentSettings",
    "affinityInfo",
    "constraints",
    "requiredSlots",
    "userIdentity",
    "multiInstanceSettings",
    "dependsOn",
    "applicationPackageReferences",
    "authenticationTokenSettings",
}


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    body_bytes: int
    task_count: int = 0
    status: int = 0


@dataclass
class Fault:
    method: str
    path_suffix: str
    status: int
    code: str
    retry_after: float | None = None
    times: int = 1


@dataclass
class FakeTask:
    body: dict[str, Any]
    state: str = "active"
    exit_code: int | None = None
    result: str | None = None
    failure_info: dict[str, Any] | None = None
    retry_count: int = 0
    requeue_count: int = 0
    node_id: str | None = None
    start_time: str | None = None
    end_time: str | None = None


@dataclass
class FakeJob:
    body: dict[str, Any]
    state: str = "active"
    tasks: dict[str, FakeTask] = field(default_factory=dict)


class FakeBatchState:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pools: dict[str, dict[str, Any]] = {}
        self.jobs: dict[str, FakeJob] = {}
        self.requests: list[Recorded] = []
        self.violations: list[str] = []
        self.faults: deque[Fault] = deque()
        self.latency = 0.0
        self.check_signature = True
        # api-version 2025-06-01 spells add-task statuses in lower case; earlier versions in camelCase.
        self.status_names = {"success": "success", "client": "clienterror", "server": "servererror"}
        self.task_server_errors: set[str] = set()  # task ids answered "servererror" once
        # pool id -> (current dedicated, current low-priority) nodes; else the pool's targets
        self.current_nodes: dict[str, tuple[int, int]] = {}


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


_ERRORS_TYPE = "Microsoft.Azure.Batch.Protocol.Entities.Container.errors/@Element"


def _error_body(code: str, message: str, base: str) -> dict[str, Any]:
    return {
        "odata.metadata": f"{base}/$metadata#{_ERRORS_TYPE}",
        "code": code,
        "message": {
            "lang": "en-US",
            "value": f"{message}\nRequestId:00000000-0000-0000-0000-000000000000\nTime:{_now()}",
        },
    }


def _expected_signature(method: str, headers: dict[str, str], path: str, query: str) -> str:
    signed = [
        "content-encoding",
        "content-language",
        "content-length",
        "content-md5",
        "content-type",
        "date",
        "if-modified-since",
        "if-match",
        "if-none-match",
        "if-unmodified-since",
        "range",
    ]
    lower = {k.lower(): v for k, v in headers.items() if v}
    if method not in ("GET", "HEAD") and "content-length" not in lower:
        lower["content-length"] = "0"
    if lower.get("content-length") == "0" and method in ("GET", "HEAD"):
        lower.pop("content-length")
    text = method + "\n" + "\n".join(lower.get(h, "") for h in signed) + "\n"
    for name, value in sorted((k, v) for k, v in lower.items() if k.startswith("ocp-")):
        text += f"{name}:{value}\n"
    text += f"/{ACCOUNT}{path}"
    params = parse_qs(query)
    for name in sorted(params):
        if params[name][0]:
            text += f"\n{name}:{params[name][0]}"
    digest = hmac.new(base64.b64decode(ACCOUNT_KEY), text.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    # -- plumbing -------------------------------------------------------------------------------------
    def _send(
        self, status: int, body: dict[str, Any] | None = None, headers: dict[str, str] | None = None
    ) -> None:
        self._recorded.status = status  # before the answer leaves, so a client never sees it unset
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("request-id", "00000000-0000-0000-0000-000000000000")
        if body is not None:
            self.send_header("Content-Type", "application/json;odata=minimalmetadata")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if data and self.command != "HEAD":
            self.wfile.write(data)

    def _error(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        self._send(status, _error_body(code, message, self.server.base_url), headers)

    def _violation(self, status: int, code: str, message: str) -> None:
        with self.server.state.lock:
            self.server.state.violations.append(f"{self.command} {self.path}: {code}: {message}")
        self._error(status, code, message)

    def _dispatch(self, method: str) -> None:
        state = self.server.state
        url = urlparse(self.path)
        path = unquote(url.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        self._recorded = Recorded(method, path, query, len(raw))
        with state.lock:
            state.requests.append(self._recorded)
        if state.latency:
            time.sleep(state.latency)
        fault = self._take_fault(method, path)
        if fault is not None:
            headers = {} if fault.retry_after is None else {"Retry-After": f"{fault.retry_after:g}"}
            self._error(fault.status, fault.code, f"Injected {fault.code}.", headers)
            return
        if query.get("api-version") not in API_VERSIONS:
            self._violation(
                400,
                "MissingRequiredQueryParameter"
                if "api-version" not in query
                else "InvalidQueryParameterValue",
                "api-version is missing or unknown",
            )
            return
        if not self._authorized(method, url.path, url.query):
            return
        body: Any = None
        if method == "POST" and raw:
            ctype = self.headers.get("Content-Type", "")
            if not ctype.startswith("application/json"):
                self._violation(400, "InvalidHeaderValue", f"Content-Type {ctype!r} is not JSON")
                return
            if len(raw) > MAX_BODY:
                self._error(
                    413,
                    "RequestBodyTooLarge",
                    "The request body is too large and exceeds the maximum permissible limit.",
                )
                return
            try:
                body = json.loads(raw)
            except ValueError:
                self._violation(400, "InvalidRequestBody", "body is not JSON")
                return
        self._route(method, path, query, body)

    def _take_fault(self, method: str, path: str) -> Fault | None:
        state = self.server.state
        with state.lock:
            for fault in state.faults:
                if fault.method == method and path.endswith(fault.path_suffix):
                    fault.times -= 1
                    if fault.times <= 0:
                        state.faults.remove(fault)
                    return fault
        return None

    def _authorized(self, method: str, raw_path: str, raw_query: str) -> bool:
        auth = self.headers.get("Authorization", "")
        if not auth.startswith(f"SharedKey {ACCOUNT}:"):
            self._violation(401, "AuthenticationFailed", "missing SharedKey Authorization header")
            return False
        if not self.headers.get("ocp-date"):
            self._violation(401, "AuthenticationFailed", "missing ocp-date header")
            return False
        if self.server.state.check_signature:
            expected = _expected_signature(method, dict(self.headers.items()), raw_path, raw_query)
            if auth.split(":", 1)[1] != expected:
                self._violation(403, "AuthenticationFailed", "SharedKey signature does not match")
                return False
        return True

    # -- resources ------------------------------------------------------------------------------------
    def _route(self, method: str, path: str, query: dict[str, str], body: Any) -> None:
        parts = [p for p in path.split("/") if p]
        state = self.server.state
        if parts == ["pools"] and method == "POST":
            if self._pool_scale_is_valid(body):
                self._create(body, POOL_FIELDS, state.pools, "Pool", ("id", "vmSize"))
        elif parts == ["pools"] and method == "GET":
            self._list_pools(query)
        elif len(parts) == 2 and parts[0] == "pools":
            self._pool(method, parts[1])
        elif parts == ["jobs"] and method == "POST":
            self._create_job(body)
        elif len(parts) == 2 and parts[0] == "jobs":
            self._job(method, parts[1])
        elif len(parts) == 3 and parts[0] == "jobs" and parts[2] == "terminate" and method == "POST":
            self._terminate(parts[1])
        elif len(parts) == 3 and parts[0] == "jobs" and parts[2] == "addtaskcollection" and method == "POST":
            self._add_tasks(parts[1], body)
        elif len(parts) == 3 and parts[0] == "jobs" and parts[2] == "taskcounts" and method == "GET":
            self._task_counts(parts[1])
        elif len(parts) == 3 and parts[0] == "jobs" and parts[2] == "tasks" and method == "GET":
            self._list_tasks(parts[1], query)
        else:
            self._violation(400, "InvalidUri", f"no such operation {method} {path}")

    def _pool_scale_is_valid(self, body: Any) -> bool:
        """The documented PoolAddParameter rules on sizing that a client most easily gets wrong."""
        if not isinstance(body, dict):
            return True
        if body.get("enableAutoScale"):
            if not body.get("autoScaleFormula"):
                self._violation(
                    400, "MissingRequiredProperty", "autoScaleFormula is required with enableAutoScale"
                )
                return False
            if "targetDedicatedNodes" in body or "targetLowPriorityNodes" in body:
                self._violation(
                    400, "InvalidPropertyValue", "target node counts must be omitted with autoscale"
                )
                return False
        slots = body.get("taskSlotsPerNode", 1)
        if not isinstance(slots, int) or not 1 <= slots <= 256:
            self._violation(400, "InvalidPropertyValue", "taskSlotsPerNode must be 1-256")
            return False
        return True

    def _check_fields(self, body: Any, allowed: set[str], required: tuple[str, ...], what: str) -> bool:
        if not isinstance(body, dict):
            self._violation(400, "InvalidRequestBody", f"{what} body must be a JSON object")
            return False
        unknown = sorted(set(body) - allowed)
        if unknown:
            self._violation(400, "InvalidRequestBody", f"{what} has unknown properties {unknown}")
            return False
        missing = [r for r in required if not body.get(r)]
        if missing:
            self._violation(400, "MissingRequiredProperty", f"{what} is missing {missing}")
            return False
        return True

    def _create(
        self, body: Any, allowed: set[str], store: dict[str, Any], kind: str, required: tuple[str, ...]
    ) -> None:
        if not self._check_fields(body, allowed, required, kind.lower()):
            return
        with self.server.state.lock:
            if body["id"] in store:
                exists = True
            else:
                exists = False
                store[body["id"]] = {**body, "state": "active", "creationTime": _now()}
        if exists:
            self._error(409, f"{kind}Exists", f"The specified {kind.lower()} already exists.")
        else:
            self._send(
                201,
                None,
                {
                    "DataServiceId": f"{self.server.base_url}/{kind.lower()}s/{body['id']}",
                    "ETag": "0x1",
                    "Last-Modified": "Wed, 25 Nov 2026 12:00:00 GMT",
                },
            )

    def _list_pools(self, query: dict[str, str]) -> None:
        """Pool listing, one pool per page so clients have to follow `odata.nextLink`."""
        state = self.server.state
        with state.lock:
            pools = [dict(pool) for pool in state.pools.values()]
        start = int(query.get("skiptoken", "0"))
        page: dict[str, Any] = {
            "odata.metadata": f"{self.server.base_url}/$metadata#pools",
            "value": [{"id": p["id"], "metadata": p.get("metadata", [])} for p in pools[start : start + 1]],
        }
        if start + 1 < len(pools):
            rest = "&".join(f"{k}={v}" for k, v in query.items() if k not in ("skiptoken", "$select"))
            page["odata.nextLink"] = f"{self.server.base_url}/pools?{rest}&skiptoken={start + 1}"
        self._send(200, page)

    def _pool(self, method: str, pool_id: str) -> None:
        state = self.server.state
        with state.lock:
            pool = state.pools.get(pool_id)
            if pool is not None and method == "DELETE":
                del state.pools[pool_id]
        if pool is None:
            self._error(404, "PoolNotFound", "The specified pool does not exist.")
        elif method == "GET":
            self._send(
                200,
                {
                    "odata.metadata": f"{self.server.base_url}/$metadata#pools/@Element",
                    **pool,
                    **self._current_nodes(pool_id, pool),
                    "url": f"{self.server.base_url}/pools/{pool_id}",
                },
            )
        elif method == "DELETE":
            self._send(202)
        else:
            self._violation(400, "InvalidUri", f"{method} not allowed on a pool")

    def _current_nodes(self, pool_id: str, pool: dict[str, Any]) -> dict[str, int]:
        """The read-only counts a pool GET reports: what a test set (a resize, an eviction), else the
        targets, as if allocation had finished."""
        targets = (int(pool.get("targetDedicatedNodes") or 0), int(pool.get("targetLowPriorityNodes") or 0))
        dedicated, low = self.server.state.current_nodes.get(pool_id, targets)
        return {"currentDedicatedNodes": dedicated, "currentLowPriorityNodes": low}

    def _create_job(self, body: Any) -> None:
        if not self._check_fields(body, JOB_FIELDS, ("id", "poolInfo"), "job"):
            return
        info = body["poolInfo"]
        if not isinstance(info, dict) or ("poolId" in info) == ("autoPoolSpecification" in info):
            self._violation(
                400, "InvalidPropertyValue", "poolInfo needs exactly one of poolId, autoPoolSpecification"
            )
            return
        state = self.server.state
        with state.lock:
            exists = body["id"] in state.jobs
            if not exists:
                state.jobs[body["id"]] = FakeJob(body={**body, "creationTime": _now()})
        if exists:
            self._error(409, "JobExists", "The specified job already exists.")
        else:
            self._send(
                201, None, {"DataServiceId": f"{self.server.base_url}/jobs/{body['id']}", "ETag": "0x1"}
            )

    def _job(self, method: str, job_id: str) -> None:
        state = self.server.state
        with state.lock:
            job = state.jobs.get(job_id)
            if job is not None and method == "DELETE":
                del state.jobs[job_id]
        if job is None:
            self._error(404, "JobNotFound", "The specified job does not exist.")
        elif method == "GET":
            self._send(200, {**job.body, "state": job.state, "url": f"{self.server.base_url}/jobs/{job_id}"})
        elif method == "DELETE":
            self._send(202)
        else:
            self._violation(400, "InvalidUri", f"{method} not allowed on a job")

    def _terminate(self, job_id: str) -> None:
        state = self.server.state
        with state.lock:
            job = state.jobs.get(job_id)
            if job is not None and job.state in ("active", "disabled"):
                job.state = "completed"
                for task in job.tasks.values():
                    if task.state == "running":
                        task.state, task.result = "completed", "failure"
                        task.failure_info = {
                            "category": "UserError",
                            "code": "TaskEnded",
                            "message": "Task was ended by a terminate job request",
                        }
        if job is None:
            self._error(404, "JobNotFound", "The specified job does not exist.")
        else:
            self._send(202)

    def _add_tasks(self, job_id: str, body: Any) -> None:
        if not isinstance(body, dict) or set(body) != {"value"} or not isinstance(body["value"], list):
            self._violation(400, "InvalidRequestBody", 'addtaskcollection body must be {"value": [...]}')
            return
        tasks = body["value"]
        self._recorded.task_count = len(tasks)
        if not tasks or len(tasks) > MAX_TASKS:
            self._violation(
                400, "InvalidPropertyValue", f"a task collection holds 1-{MAX_TASKS} tasks, got {len(tasks)}"
            )
            return
        state = self.server.state
        results: list[dict[str, Any]] = []
        with state.lock:
            job = state.jobs.get(job_id)
            if job is None:
                pass
            elif job.state != "active":
                job = None
            else:
                for task in tasks:
                    results.append(self._add_one(job, task))
        if job is None:
            self._error(
                409 if job_id in state.jobs else 404,
                "JobCompleted" if job_id in state.jobs else "JobNotFound",
                "The job is not active." if job_id in state.jobs else "The specified job does not exist.",
            )
            return
        self._send(
            200, {"odata.metadata": f"{self.server.base_url}/$metadata#taskaddresult", "value": results}
        )

    def _add_one(self, job: FakeJob, task: Any) -> dict[str, Any]:
        if not isinstance(task, dict) or not task.get("id") or not task.get("commandLine"):
            tid = task.get("id", "") if isinstance(task, dict) else ""
            with_err = {
                "status": self.server.state.status_names["client"],
                "taskId": tid,
                "error": {
                    "code": "MissingRequiredProperty",
                    "message": {"lang": "en-US", "value": "id and commandLine are required"},
                },
            }
            self.server.state.violations.append(f"task {tid!r} lacks id or commandLine")
            return with_err
        unknown = sorted(set(task) - TASK_FIELDS)
        if unknown:
            self.server.state.violations.append(f"task {task['id']} has unknown properties {unknown}")
            return {
                "status": self.server.state.status_names["client"],
                "taskId": task["id"],
                "error": {
                    "code": "InvalidPropertyName",
                    "message": {"lang": "en-US", "value": f"unknown properties {unknown}"},
                },
            }
        if "dependsOn" in task and not job.body.get("usesTaskDependencies"):
            return {
                "status": self.server.state.status_names["client"],
                "taskId": task["id"],
                "error": {
                    "code": "TaskDependenciesNotSpecifiedOnJob",
                    "message": {"lang": "en-US", "value": "The job does not use task dependencies."},
                },
            }
        if task["id"] in self.server.state.task_server_errors:
            self.server.state.task_server_errors.discard(task["id"])
            return {
                "status": self.server.state.status_names["server"],
                "taskId": task["id"],
                "error": {"code": "ServerBusy", "message": {"lang": "en-US", "value": "Try again."}},
            }
        if task["id"] in job.tasks:
            return {
                "status": self.server.state.status_names["client"],
                "taskId": task["id"],
                "error": {
                    "code": "TaskExists",
                    "message": {"lang": "en-US", "value": "The specified task already exists."},
                },
            }
        job.tasks[task["id"]] = FakeTask(body=task)
        return {
            "status": self.server.state.status_names["success"],
            "taskId": task["id"],
            "eTag": "0x1",
            "lastModified": _now(),
            "location": f"{self.server.base_url}/jobs/{job.body['id']}/tasks/{task['id']}",
        }

    def _task_counts(self, job_id: str) -> None:
        state = self.server.state
        with state.lock:
            job = state.jobs.get(job_id)
            counts = {"active": 0, "running": 0, "completed": 0, "succeeded": 0, "failed": 0}
            if job is not None:
                for t in job.tasks.values():
                    key = (
                        "completed"
                        if t.state == "completed"
                        else ("running" if t.state == "running" else "active")
                    )
                    counts[key] += 1
                    if t.state == "completed":
                        counts["succeeded" if t.result == "success" else "failed"] += 1
        if job is None:
            self._error(404, "JobNotFound", "The specified job does not exist.")
            return
        slots = {k: v for k, v in counts.items()}
        self._send(
            200,
            {
                "odata.metadata": f"{self.server.base_url}/$metadata#taskcountsresult/@Element",
                "taskCounts": counts,
                "taskSlotCounts": slots,
            },
        )

    def _list_tasks(self, job_id: str, query: dict[str, str]) -> None:
        state = self.server.state
        flt = query.get("$filter", "")
        want_failed = "executionInfo/result eq 'failure'" in flt
        want_completed = "state eq 'completed'" in flt
        if flt and not (want_failed or want_completed):
            self._violation(400, "InvalidQueryParameterValue", f"unsupported $filter {flt!r}")
            return
        page_size = min(int(query.get("maxresults", "1000")), 1000)
        start = int(query.get("skiptoken", "0"))
        with state.lock:
            job = state.jobs.get(job_id)
            items = (
                []
                if job is None
                else [
                    (tid, t)
                    for tid, t in sorted(job.tasks.items())
                    if (not want_completed or t.state == "completed")
                    and (not want_failed or t.result == "failure")
                ]
            )
        if job is None:
            self._error(404, "JobNotFound", "The specified job does not exist.")
            return
        page = items[start : start + page_size]
        value = [self._task_json(job_id, tid, t) for tid, t in page]
        body: dict[str, Any] = {"odata.metadata": f"{self.server.base_url}/$metadata#tasks", "value": value}
        if start + page_size < len(items):
            rest = {k: v for k, v in query.items() if k != "skiptoken"}
            qs = "&".join(f"{k}={v}" for k, v in rest.items())
            body["odata.nextLink"] = (
                f"{self.server.base_url}/jobs/{job_id}/tasks?{qs}&skiptoken={start + page_size}"
            )
        self._send(200, body)

    def _task_json(self, job_id: str, tid: str, t: FakeTask) -> dict[str, Any]:
        out: dict[str, Any] = {
            **t.body,
            "url": f"{self.server.base_url}/jobs/{job_id}/tasks/{tid}",
            "eTag": "0x1",
            "creationTime": _now(),
            "state": t.state,
        }
        info: dict[str, Any] = {"retryCount": t.retry_count, "requeueCount": t.requeue_count}
        if t.state == "completed":
            info.update(
                {
                    "startTime": t.start_time or _now(),
                    "endTime": t.end_time or _now(),
                    "exitCode": t.exit_code,
                    "result": t.result,
                }
            )
            if t.failure_info:
                info["failureInfo"] = t.failure_info
        elif t.state == "running" and t.start_time:
            info["startTime"] = t.start_time
        out["executionInfo"] = info
        if t.node_id:
            out["nodeInfo"] = {"nodeId": t.node_id, "poolId": "pool"}
        return out


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: FakeBatchState
    base_url: str


class FakeBatchServer:
    """Start with `with FakeBatchServer() as fake:`; `fake.url` is the Batch account endpoint."""

    account_name = ACCOUNT
    account_key = ACCOUNT_KEY

    def __init__(self) -> None:
        self.state = FakeBatchState()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.state = self.state
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._server.base_url = self.url
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> FakeBatchServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def inject(
        self,
        method: str,
        path_suffix: str,
        status: int,
        code: str,
        *,
        retry_after: float | None = None,
        times: int = 1,
    ) -> None:
        with self.state.lock:
            self.state.faults.append(Fault(method, path_suffix, status, code, retry_after, times))

    def finish_task(
        self,
        job_id: str,
        task_id: str,
        *,
        exit_code: int,
        failure: dict[str, Any] | None = None,
        retry_count: int = 0,
        node_id: str | None = "tvm-1",
        start_time: str | None = None,
        end_time: str | None = None,
    ) -> None:
        """Move a task to completed, as the service does when its process ends (`executionInfo` times:
        ISO 8601 as the service writes them, else now)."""
        with self.state.lock:
            task = self.state.jobs[job_id].tasks[task_id]
            task.start_time, task.end_time = start_time or task.start_time, end_time
            task.state, task.exit_code, task.retry_count, task.node_id = (
                "completed",
                exit_code,
                retry_count,
                node_id,
            )
            task.result = "success" if exit_code == 0 and failure is None else "failure"
            if task.result == "failure":
                task.failure_info = failure or {
                    "category": "usererror",
                    "code": "FailureExitCode",
                    "message": "The task process exited with an unexpected exit code",
                    "details": [{"name": "Message", "value": f"The task exited with exit code {exit_code}"}],
                }

    def set_running(self, job_id: str, task_id: str) -> None:
        with self.state.lock:
            self.state.jobs[job_id].tasks[task_id].state = "running"

    def task_ids(self, job_id: str) -> list[str]:
        with self.state.lock:
            return list(self.state.jobs[job_id].tasks)

    def task_requests(self) -> list[Recorded]:
        with self.state.lock:
            return [r for r in self.state.requests if r.path.endswith("/addtaskcollection")]


def main() -> None:
    """Serve in its own process (the bench does, so server work does not share the client's GIL)."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(description="Loopback Azure Batch REST server")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every request")
    args = parser.parse_args()
    with FakeBatchServer() as fake:
        fake.state.latency = args.latency
        print(fake.url, flush=True)
        sys.stdin.read()  # serve until the parent closes our stdin
        if fake.state.violations:
            print("\n".join(fake.state.violations), file=sys.stderr, flush=True)
            sys.exit(1)


if __name__ == "__main__":
    main()
