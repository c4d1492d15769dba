"""A loopback server speaking the Databricks Jobs API 2.2 one-time-run endpoints, for tests.

`POST /api/2.2/jobs/runs/submit`, `GET /api/2.2/jobs/runs/get` (task arrays paged at 100 with
`next_page_token`/`has_more`), `POST /api/2.2/jobs/runs/cancel`, `GET /api/2.2/jobs/runs/get-output`
(task runs only, as the real API insists), `POST /api/2.x/clusters/events` (from `cluster_events`).
Requests are checked against the documented shapes: an invalid one gets the documented error body
`{"error_code": "INVALID_PARAMETER_VALUE", "message": ...}` with 400 and is recorded in `violations`.
The test drives run progress with `set_task`, and injects 429/5xx faults.

`LoopbackJsonServer` is the small threaded HTTP base the Livy and Synapse fakes share.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlparse

Answer = tuple[int, dict[str, str], Any]


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


@dataclass
class Fault:
    path_part: str
    status: int
    retry_after: str | None
    body: Any
    times: int


class LoopbackJsonServer:
    """Threaded HTTP server on 127.0.0.1:<free port>; subclasses implement `handle`."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.violations: list[str] = []
        self._faults: deque[Fault] = deque()
        self.lock = threading.RLock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                parsed = urlparse(self.path)
                ctype = self.headers.get("Content-Type", "")
                body: Any
                if "application/x-www-form-urlencoded" in ctype:
                    body = parse_qs(raw.decode(), keep_blank_values=True)
                else:
                    try:
                        body = json.loads(raw) if raw else None
                    except ValueError:
                        body = raw.decode(errors="replace")
                record = Recorded(
                    self.command,
                    parsed.path,
                    parse_qs(parsed.query),
                    {k: v for k, v in self.headers.items()},
                    body,
                )
                with outer.lock:
                    outer.requests.append(record)
                    status, headers, payload = outer._fault_for(parsed.path) or outer.handle(record)
                data = b"" if payload is None else json.dumps(payload).encode()
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = do_PUT = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def inject(
        self, path_part: str, status: int, *, times: int = 1, retry_after: str | None = None, body: Any = None
    ) -> None:
        """The next `times` requests whose path contains `path_part` get this answer instead."""
        with self.lock:
            self._faults.append(Fault(path_part, status, retry_after, body, times))

    def _fault_for(self, path: str) -> Answer | None:
        for fault in list(self._faults):
            if fault.path_part in path:
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
                headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
                body = (
                    fault.body
                    if fault.body is not None
                    else {"error_code": "TEMPORARILY_UNAVAILABLE", "message": f"injected {fault.status}"}
                )
                return fault.status, headers, body
        return None

    def calls(self, method: str, path_part: str) -> list[Recorded]:
        with self.lock:
            return [r for r in self.requests if r.method == method and path_part in r.path]

    def handle(self, request: Recorded) -> Answer:
        raise NotImplementedError


# ---------------------------------------------------------------------------------------------- Databricks

SUBMIT_FIELDS = {
    "run_name",
    "tasks",
    "idempotency_token",
    "timeout_seconds",
    "access_control_list",
    "email_notifications",
    "webhook_notifications",
    "notification_settings",
    "health",
    "git_source",
    "environments",
    "queue",
    "run_as",
    "budget_policy_id",
    "usage_policy_id",
    "performance_target",
    "environment_variables",
    "duration_target",
}
PAYLOADS = {
    "notebook_task",
    "spark_python_task",
    "python_wheel_task",
    "spark_jar_task",
    "spark_submit_task",
    "sql_task",
    "dbt_task",
    "pipeline_task",
    "run_job_task",
    "condition_task",
    "for_each_task",
}
TASK_FIELDS = PAYLOADS | {
    "task_key",
    "depends_on",
    "run_if",
    "new_cluster",
    "existing_cluster_id",
    "environment_key",
    "libraries",
    "timeout_seconds",
    "email_notifications",
    "webhook_notifications",
    "notification_settings",
    "health",
    "description",
    "disabled",
}
CLUSTER_FIELDS = {
    "spark_version",
    "node_type_id",
    "driver_node_type_id",
    "num_workers",
    "autoscale",
    "spark_conf",
    "spark_env_vars",
    "custom_tags",
    "azure_attributes",
    "data_security_mode",
    "single_user_name",
    "init_scripts",
    "cluster_log_conf",
    "enable_elastic_disk",
    "instance_pool_id",
    "driver_instance_pool_id",
    "policy_id",
    "cluster_name",
    "runtime_engine",
    "disk_spec",
    "docker_image",
    "ssh_public_keys",
    "apply_policy_default_values",
    "enable_local_disk_encryption",
    "workload_type",
    "kind",
    "is_single_node",
    "use_ml_runtime",
}
AVAILABILITY = {"ON_DEMAND_AZURE", "SPOT_AZURE", "SPOT_WITH_FALLBACK_AZURE"}
SECURITY_MODES = {
    "NONE",
    "SINGLE_USER",
    "USER_ISOLATION",
    "LEGACY_TABLE_ACL",
    "LEGACY_PASSTHROUGH",
    "LEGACY_SINGLE_USER",
    "DATA_SECURITY_MODE_AUTO",
    "DATA_SECURITY_MODE_STANDARD",
    "DATA_SECURITY_MODE_DEDICATED",
}
LIBRARY_KINDS = {"pypi", "maven", "whl", "jar", "egg", "cran", "requirements"}
TASK_KEY = re.compile(r"^[\w\-]{1,100}$")
PAGE = 100
TERMINATION = {
    "SUCCESS": ("SUCCESS", "SUCCESS"),
    "FAILED": ("RUN_EXECUTION_ERROR", "CLIENT_ERROR"),
    "TIMEDOUT": ("RUN_EXECUTION_ERROR", "CLIENT_ERROR"),
    "CANCELED": ("USER_CANCELED", "SUCCESS"),
}


@dataclass
class FakeTask:
    task_key: str
    run_id: int
    spec: dict[str, Any]
    life_cycle_state: str = "PENDING"
    result_state: str | None = None
    message: str = ""
    start_time: int = 0
    end_time: int = 0
    setup_duration: int = 0
    execution_duration: int = 0
    output: dict[str, Any] = field(default_factory=dict)


@dataclass
class FakeRun:
    run_id: int
    run_name: str
    body: dict[str, Any]
    tasks: list[FakeTask]
    start_time: int


def _state(life: str, result: str | None, message: str) -> tuple[dict[str, Any], dict[str, Any]]:
    state: dict[str, Any] = {
        "life_cycle_state": life,
        "state_message": message,
        "user_cancelled_or_timedout": result in ("CANCELED", "TIMEDOUT"),
    }
    status: dict[str, Any] = {"state": "QUEUED" if life == "QUEUED" else life}
    if result is not None:
        state["result_state"] = result
        code, kind = TERMINATION.get(result, ("RUN_EXECUTION_ERROR", "CLIENT_ERROR"))
        status["termination_details"] = {"code": code, "type": kind, "message": message}
    return state, status


class FakeDatabricks(LoopbackJsonServer):
    def __init__(self, token: str = "dapi-loopback-test-token") -> None:
        super().__init__()
        self.token = token
        self.runs: dict[int, FakeRun] = {}
        self.task_runs: dict[int, FakeTask] = {}
        self._by_token: dict[str, int] = {}
        self._next_id = 1000
        self.cluster_events: dict[str, list[dict[str, Any]]] = {}  # cluster id -> events, oldest first

    # -- test controls

    def set_task(
        self,
        run_id: int,
        task_key: str,
        life_cycle_state: str,
        result_state: str | None = None,
        message: str = "",
        output: dict[str, Any] | None = None,
    ) -> None:
        with self.lock:
            task = next(t for t in self.runs[run_id].tasks if t.task_key == task_key)
            task.life_cycle_state, task.result_state, task.message = life_cycle_state, result_state, message
            now = int(time.time() * 1000)
            task.start_time = task.start_time or now
            if life_cycle_state == "TERMINATED":
                task.end_time = now
            if output is not None:
                task.output = output

    def set_times(
        self, run_id: int, task_key: str, *, start_time: int, setup: int, execution: int, cleanup: int = 0
    ) -> None:
        """The task run's own times, as the service reports them once it ended (milliseconds)."""
        with self.lock:
            task = next(t for t in self.runs[run_id].tasks if t.task_key == task_key)
            task.start_time, task.setup_duration, task.execution_duration = start_time, setup, execution
            task.end_time = start_time + setup + execution + cleanup

    def set_all(
        self, run_id: int, life_cycle_state: str, result_state: str | None = None, message: str = ""
    ) -> None:
        for task in self.runs[run_id].tasks:
            self.set_task(run_id, task.task_key, life_cycle_state, result_state, message)

    def submitted(self) -> list[dict[str, Any]]:
        return [r.body for r in self.calls("POST", "/runs/submit")]

    # -- validation

    def _check_cluster(self, cluster: Any, where: str) -> list[str]:
        if not isinstance(cluster, dict):
            return [f"{where} must be an object"]
        errors = [f"{where}.{k} is not a cluster field" for k in cluster if k not in CLUSTER_FIELDS]
        if not cluster.get("spark_version"):
            errors.append(f"{where}.spark_version is required")
        autoscale = cluster.get("autoscale")
        if "num_workers" not in cluster and autoscale is None:
            errors.append(f"{where}: num_workers or autoscale is required")
        if autoscale is not None and not (
            isinstance(autoscale.get("min_workers"), int)
            and isinstance(autoscale.get("max_workers"), int)
            and autoscale["min_workers"] <= autoscale["max_workers"]
        ):
            errors.append(f"{where}.autoscale needs integer min_workers <= max_workers")
        attrs = cluster.get("azure_attributes") or {}
        if "availability" in attrs and attrs["availability"] not in AVAILABILITY:
            errors.append(f"{where}.azure_attributes.availability {attrs['availability']!r} is invalid")
        if "first_on_demand" in attrs and (
            not isinstance(attrs["first_on_demand"], int) or attrs["first_on_demand"] < 0
        ):
            errors.append(f"{where}.azure_attributes.first_on_demand must be an integer >= 0")
        mode = cluster.get("data_security_mode")
        if mode is not None and mode not in SECURITY_MODES:
            errors.append(f"{where}.data_security_mode {mode!r} is invalid")
        for name in ("spark_conf", "custom_tags", "spark_env_vars"):
            value = cluster.get(name, {})
            if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
                errors.append(f"{where}.{name} must map strings to strings")
        for i, script in enumerate(cluster.get("init_scripts", [])):
            if not isinstance(script, dict) or len(script) != 1:
                errors.append(f"{where}.init_scripts[{i}] names exactly one destination")
        return errors

    def _check_submit(self, body: Any) -> list[str]:
        if not isinstance(body, dict):
            return ["body must be a JSON object"]
        errors = [f"{k} is not a runs/submit field" for k in body if k not in SUBMIT_FIELDS]
        token = body.get("idempotency_token")
        if token is not None and (not isinstance(token, str) or len(token) > 64):
            errors.append("idempotency_token must be a string of at most 64 characters")
        tasks = body.get("tasks")
        if not isinstance(tasks, list) or not tasks:
            return [*errors, "tasks must be a non-empty array"]
        keys = [t.get("task_key") for t in tasks if isinstance(t, dict)]
        for i, task in enumerate(tasks):
            where = f"tasks[{i}]"
            errors += [f"{where}.{k} is not a task field" for k in task if k not in TASK_FIELDS]
            if not isinstance(task.get("task_key"), str) or not TASK_KEY.match(task["task_key"]):
                errors.append(f"{where}.task_key must match {TASK_KEY.pattern}")
            payloads = [k for k in task if k in PAYLOADS]
            if len(payloads) != 1:
                errors.append(f"{where} must have exactly one task payload, got {payloads}")
            computes = [k for k in ("new_cluster", "existing_cluster_id") if k in task]
            if len(computes) != 1:
                errors.append(f"{where} must have exactly one of new_cluster, existing_cluster_id")
            if "new_cluster" in task:
                errors += self._check_cluster(task["new_cluster"], f"{where}.new_cluster")
            for dep in task.get("depends_on", []):
                if dep.get("task_key") not in keys:
                    errors.append(f"{where}.depends_on names unknown task {dep.get('task_key')!r}")
            for j, lib in enumerate(task.get("libraries", [])):
                if not isinstance(lib, dict) or len(lib) != 1 or next(iter(lib)) not in LIBRARY_KINDS:
                    errors.append(f"{where}.libraries[{j}] must name exactly one of {sorted(LIBRARY_KINDS)}")
            if "spark_python_task" in task and not task["spark_python_task"].get("python_file"):
                errors.append(f"{where}.spark_python_task.python_file is required")
            if "notebook_task" in task and not task["notebook_task"].get("notebook_path"):
                errors.append(f"{where}.notebook_task.notebook_path is required")
        return errors

    @staticmethod
    def _bad(message: str, status: int = 400, code: str = "INVALID_PARAMETER_VALUE") -> Answer:
        return status, {}, {"error_code": code, "message": message}

    # -- endpoints

    def handle(self, request: Recorded) -> Answer:
        if request.path == "/.well-known/databricks-config":
            return 404, {}, {"error_code": "NOT_FOUND", "message": "no such endpoint"}
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            self.violations.append(f"{request.method} {request.path} without the expected bearer token")
            return self._bad("Invalid access token.", 401, "UNAUTHENTICATED")
        route = (request.method, request.path)
        if route == ("POST", "/api/2.2/jobs/runs/submit"):
            return self._submit(request.body)
        if route == ("GET", "/api/2.2/jobs/runs/get"):
            return self._get(request.query)
        if route == ("POST", "/api/2.2/jobs/runs/cancel"):
            return self._cancel(request.body)
        if route == ("GET", "/api/2.2/jobs/runs/list"):
            return self._list(request.query)
        if route == ("GET", "/api/2.2/jobs/runs/get-output"):
            return self._output(request.query)
        if route in (("POST", "/api/2.0/clusters/events"), ("POST", "/api/2.1/clusters/events")):
            return self._events(request.body)
        self.violations.append(f"unexpected {request.method} {request.path}")
        return self._bad(f"No API found for '{request.method} {request.path}'", 404, "ENDPOINT_NOT_FOUND")

    def _submit(self, body: Any) -> Answer:
        errors = self._check_submit(body)
        if errors:
            self.violations.extend(errors)
            return self._bad("; ".join(errors))
        token = body.get("idempotency_token")
        if token and token in self._by_token:
            return 200, {}, {"run_id": self._by_token[token]}
        self._next_id += 1
        run_id = self._next_id
        tasks = []
        for spec in body["tasks"]:
            self._next_id += 1
            task = FakeTask(spec["task_key"], self._next_id, spec)
            self.task_runs[task.run_id] = task
            tasks.append(task)
        self.runs[run_id] = FakeRun(
            run_id, body.get("run_name", "Untitled"), body, tasks, int(time.time() * 1000)
        )
        if token:
            self._by_token[token] = run_id
        return 200, {}, {"run_id": run_id}

    def _task_json(self, task: FakeTask) -> dict[str, Any]:
        state, status = _state(task.life_cycle_state, task.result_state, task.message)
        data: dict[str, Any] = {
            "run_id": task.run_id,
            "task_key": task.task_key,
            "state": state,
            "status": status,
            "attempt_number": 0,
            "start_time": task.start_time,
            "end_time": task.end_time,
            "setup_duration": task.setup_duration,
            "execution_duration": task.execution_duration,
        }
        if task.life_cycle_state != "PENDING":
            data["cluster_instance"] = {"cluster_id": f"0101-{task.run_id}-fake", "spark_context_id": "1"}
        for key in ("new_cluster", "existing_cluster_id", "libraries", "depends_on"):
            if key in task.spec:
                data[key] = task.spec[key]
        return data

    def _events(self, body: Any) -> Answer:
        """`clusters/events`: filtered by `event_types`, ordered by `order`, paged by `offset`/`limit`
        (at most 500) with `next_page` the request body for the next page, as documented."""
        fields = {"cluster_id", "start_time", "end_time", "order", "event_types", "offset", "limit"}
        errors = [f"clusters/events: {k} is not a request field" for k in body if k not in fields]
        if not isinstance(body.get("cluster_id"), str):
            errors.append("clusters/events: cluster_id is required")
        limit = int(body.get("limit", 50))
        if not 1 <= limit <= 500:
            errors.append("clusters/events: limit must be 1..500")
        if errors:
            self.violations.extend(errors)
            return self._bad("; ".join(errors))
        with self.lock:
            events = list(self.cluster_events.get(body["cluster_id"], []))
        kinds = body.get("event_types")
        events = [e for e in events if not kinds or e["type"] in kinds]
        events = [
            e for e in events if body.get("start_time", 0) <= e["timestamp"] <= body.get("end_time", 2**62)
        ]
        events.sort(key=lambda e: e["timestamp"], reverse=body.get("order", "DESC") == "DESC")
        offset = int(body.get("offset", 0))
        answer: dict[str, Any] = {"events": events[offset : offset + limit], "total_count": len(events)}
        if offset + limit < len(events):
            answer["next_page"] = {**body, "offset": offset + limit, "limit": limit}
        return 200, {}, answer

    def _run_state(self, run: FakeRun) -> tuple[str, str | None, str]:
        lives = [t.life_cycle_state for t in run.tasks]
        if all(life == "TERMINATED" for life in lives):
            results = [t.result_state for t in run.tasks]
            for worst in ("FAILED", "TIMEDOUT", "CANCELED"):
                if worst in results:
                    failed = next(t for t in run.tasks if t.result_state == worst)
                    return "TERMINATED", worst, failed.message
            return "TERMINATED", "SUCCESS", ""
        if any(life in ("RUNNING", "TERMINATING", "TERMINATED") for life in lives):
            return "RUNNING", None, "In run"
        return "PENDING", None, "Waiting for cluster"

    def _get(self, query: dict[str, list[str]]) -> Answer:
        try:
            run = self.runs[int(query["run_id"][0])]
        except (KeyError, ValueError):
            return self._bad(f"Run {query.get('run_id')} does not exist.", 400, "INVALID_PARAMETER_VALUE")
        offset = 0
        if "page_token" in query:
            token = query["page_token"][0]
            if not token.startswith("p") or not token[1:].isdigit():
                self.violations.append(f"bad page_token {token!r}")
                return self._bad("Invalid page token")
            offset = int(token[1:])
        page = run.tasks[offset : offset + PAGE]
        life, result, message = self._run_state(run)
        state, status = _state(life, result, message)
        data: dict[str, Any] = {
            "job_id": 0,
            "run_id": run.run_id,
            "run_name": run.run_name,
            "number_in_job": run.run_id,
            "creator_user_name": "loopback@example.com",
            "state": state,
            "status": status,
            "start_time": run.start_time,
            "end_time": max((t.end_time for t in run.tasks), default=0) if life == "TERMINATED" else 0,
            "setup_duration": 0,
            "execution_duration": 0,
            "run_page_url": f"{self.url}/#job/0/run/{run.run_id}",
            "run_type": "SUBMIT_RUN",
            "trigger": "ONE_TIME",
            "format": "MULTI_TASK",
            "tasks": [self._task_json(t) for t in page],
        }
        if offset + PAGE < len(run.tasks):
            data["has_more"] = True
            data["next_page_token"] = f"p{offset + PAGE}"
        return 200, {}, data

    def _list(self, query: dict[str, list[str]]) -> Answer:
        """One run per page (clients follow `next_page_token`); active only, as the sweeper asks."""
        if query.get("active_only") != ["true"]:
            return self._bad("this fake lists active runs only")
        with self.lock:
            active = [
                r for r in self.runs.values() if any(t.life_cycle_state != "TERMINATED" for t in r.tasks)
            ]
        start = int(query.get("page_token", ["0"])[0])
        page = [
            {
                "run_id": run.run_id,
                "run_name": run.run_name,
                "tasks": [{"task_key": t.task_key, "run_id": t.run_id, **t.spec} for t in run.tasks],
                "job_clusters": run.body.get("job_clusters", []),
            }
            for run in active[start : start + 1]
        ]
        data: dict[str, Any] = {"runs": page, "has_more": start + 1 < len(active)}
        if start + 1 < len(active):
            data["next_page_token"] = str(start + 1)
        return 200, {}, data

    def _cancel(self, body: Any) -> Answer:
        run = self.runs.get(int((body or {}).get("run_id", -1)))
        if run is None:
            return self._bad("Run does not exist.")
        for task in run.tasks:
            if task.life_cycle_state != "TERMINATED":
                task.life_cycle_state, task.result_state = "TERMINATED", "CANCELED"
                task.message = "Run cancelled."
                task.end_time = int(time.time() * 1000)
        return 200, {}, {}

    def _output(self, query: dict[str, list[str]]) -> Answer:
        run_id = int(query["run_id"][0])
        if run_id in self.runs:
            if len(self.runs[run_id].tasks) > 1:
                return self._bad(
                    "Retrieving the output of runs with multiple tasks is not supported. "
                    "Please retrieve the output of each individual task run instead."
                )
            task = self.runs[run_id].tasks[0]
        elif run_id in self.task_runs:
            task = self.task_runs[run_id]
        else:
            return self._bad(f"Run {run_id} does not exist.")
        data: dict[str, Any] = {"metadata": self._task_json(task)}
        out = task.output
        if "notebook_result" in out:
            data["notebook_output"] = {"result": out["notebook_result"], "truncated": False}
        for key in ("logs", "logs_truncated", "error", "error_trace"):
            if key in out:
                data[key] = out[key]
        return 200, {}, data
