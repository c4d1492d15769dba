"""A loopback HDInsight gateway: Livy batches (`/livy/batches`) and WebHCat (`/templeton/v1`), for tests.

Checks what the documented APIs check: basic auth, Livy's `X-Requested-By` CSRF header on writes, batch
fields and types, unique batch names ("Duplicate session name"), local paths refused ("Local path ...
cannot be added to user sessions"), WebHCat's required form fields. Answers use the documented shapes:
batch `{id, name, owner, proxyUser, state, appId, appInfo, log}`, list `{from, total, sessions}`, log
`{id, from, total, log}`, WebHCat `{"id"}` on submit and `{status{state, ...}, exitValue, ...}` on status.
A deleted batch is gone (404), as in Livy.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.databricks_rest import Answer, LoopbackJsonServer, Recorded

BATCH_FIELDS = {
    "file",
    "proxyUser",
    "className",
    "args",
    "jars",
    "pyFiles",
    "files",
    "driverMemory",
    "driverCores",
    "executorMemory",
    "executorCores",
    "numExecutors",
    "archives",
    "queue",
    "name",
    "conf",
}
LIST_FIELDS = ("args", "jars", "pyFiles", "files", "archives")
INT_FIELDS = ("driverCores", "executorCores", "numExecutors")


@dataclass
class FakeBatch:
    id: int
    body: dict[str, Any]
    state: str = "starting"
    app_id: str | None = None
    log: list[str] = field(default_factory=lambda: ["stdout: ", "\nstderr: "])

    def json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.body.get("name"),
            "owner": "admin",
            "proxyUser": None,
            "state": self.state,
            "appId": self.app_id,
            "appInfo": {
                "driverLogUrl": None,
                "sparkUiUrl": f"http://headnode/proxy/{self.app_id}" if self.app_id else None,
            },
            "log": self.log[-100:],
        }


@dataclass
class FakeTempletonJob:
    id: str
    kind: str
    form: dict[str, list[str]]
    state: str = "PREP"
    exit_value: int | None = None
    failure_info: str = "NA"
    start_time: int = field(default_factory=lambda: int(time.time() * 1000))
    finish_time: int = 0


class FakeHDInsight(LoopbackJsonServer):
    def __init__(self, username: str = "admin", password: str = "loopback-password") -> None:
        super().__init__()
        self.username = username
        self._auth = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
        self.batches: dict[int, FakeBatch] = {}
        self.jobs: dict[str, FakeTempletonJob] = {}
        self._next = 0

    def set_batch(self, batch_id: int, state: str, log: list[str] | None = None) -> None:
        with self.lock:
            batch = self.batches[batch_id]
            batch.state = state
            batch.app_id = batch.app_id or f"application_1700000000000_{batch_id:04d}"
            if log is not None:
                batch.log = log

    def set_job(
        self, job_id: str, state: str, exit_value: int | None = None, failure_info: str = "NA"
    ) -> None:
        with self.lock:
            job = self.jobs[job_id]
            job.state, job.exit_value, job.failure_info = state, exit_value, failure_info
            if state in ("SUCCEEDED", "FAILED", "KILLED"):
                job.finish_time = job.finish_time or int(time.time() * 1000)

    @staticmethod
    def _msg(status: int, message: str) -> Answer:
        return status, {}, {"msg": message}

    def handle(self, request: Recorded) -> Answer:
        if request.headers.get("Authorization") != self._auth:
            return 401, {"WWW-Authenticate": 'Basic realm="gateway"'}, {"msg": "Unauthorized"}
        path = request.path
        if path.startswith("/livy/"):
            if request.method in ("POST", "DELETE") and not request.headers.get("X-Requested-By"):
                self.violations.append(f"{request.method} {path} without X-Requested-By")
                return self._msg(400, "Missing Required Header for CSRF protection.")
            return self._livy(request)
        if path.startswith("/templeton/v1/"):
            return self._templeton(request)
        self.violations.append(f"unexpected {request.method} {path}")
        return self._msg(404, "not found")

    # -- Livy

    def _check_batch(self, body: Any) -> list[str]:
        if not isinstance(body, dict):
            return ["body must be a JSON object"]
        errors = [f"Unrecognized field {k!r}" for k in body if k not in BATCH_FIELDS]
        if not isinstance(body.get("file"), str) or not body["file"]:
            errors.append("requirement failed: File is required.")
        for name in LIST_FIELDS:
            if name in body and not (
                isinstance(body[name], list) and all(isinstance(v, str) for v in body[name])
            ):
                errors.append(f"{name} must be a list of strings")
        for name in INT_FIELDS:
            if name in body and not isinstance(body[name], int):
                errors.append(f"{name} must be an integer")
        conf = body.get("conf", {})
        if not isinstance(conf, dict) or not all(isinstance(v, str) for v in conf.values()):
            errors.append("conf must map strings to strings")
        return errors

    def _livy(self, request: Recorded) -> Answer:
        parts = request.path.strip("/").split("/")
        if parts[:2] != ["livy", "batches"]:
            return self._msg(404, f"no route {request.path}")
        if len(parts) == 2 and request.method == "POST":
            errors = self._check_batch(request.body)
            if errors:
                self.violations.extend(errors)
                return self._msg(400, "; ".join(errors))
            file = request.body["file"]
            if file.startswith("/") or file.startswith("file:"):
                return self._msg(
                    400, f"requirement failed: Local path {file} cannot be added to user sessions."
                )
            name = request.body.get("name")
            if name is not None and any(b.body.get("name") == name for b in self.batches.values()):
                return self._msg(400, f"Duplicate session name: {name}")
            batch = FakeBatch(self._next, request.body)
            self._next += 1
            self.batches[batch.id] = batch
            return 201, {"Location": f"/batches/{batch.id}"}, batch.json()
        if len(parts) == 2 and request.method == "GET":
            start = int(request.query.get("from", ["0"])[0])
            size = int(request.query.get("size", ["20"])[0])
            sessions = [b.json() for b in sorted(self.batches.values(), key=lambda b: b.id)]
            return (
                200,
                {},
                {"from": start, "total": len(sessions), "sessions": sessions[start : start + size]},
            )
        try:
            batch = self.batches[int(parts[2])]
        except (ValueError, KeyError):
            return self._msg(404, f"Session '{parts[2]}' not found.")
        if len(parts) == 3 and request.method == "GET":
            return 200, {}, batch.json()
        if len(parts) == 3 and request.method == "DELETE":
            del self.batches[batch.id]
            return 200, {}, {"msg": "deleted"}
        if len(parts) == 4 and parts[3] == "log" and request.method == "GET":
            size = int(request.query.get("size", ["100"])[0])
            default_from = max(0, len(batch.log) - size)
            start = int(request.query.get("from", [str(default_from)])[0])
            return (
                200,
                {},
                {
                    "id": batch.id,
                    "from": start,
                    "total": len(batch.log),
                    "log": batch.log[start : start + size],
                },
            )
        return self._msg(404, f"no route {request.method} {request.path}")

    # -- WebHCat

    def _templeton(self, request: Recorded) -> Answer:
        path = request.path
        if request.method == "POST" and path in ("/templeton/v1/hive", "/templeton/v1/mapreduce/jar"):
            form = request.body if isinstance(request.body, dict) else {}
            if form.get("user.name") != [self.username]:
                self.violations.append(f"{path} without user.name")
                return 400, {}, {"error": "User name must be specified"}
            if path.endswith("/hive"):
                if ("execute" in form) == ("file" in form):
                    self.violations.append("hive needs exactly one of execute, file")
                    return 400, {}, {"error": "Either execute or file parameter required"}
                kind = "hive"
            else:
                missing = [k for k in ("jar", "class") if not form.get(k)]
                if missing:
                    self.violations.append(f"mapreduce/jar missing {missing}")
                    return 400, {}, {"error": f"Missing {missing[0]} parameter"}
                kind = "mapreduce"
            self._next += 1
            job = FakeTempletonJob(f"job_1700000000000_{self._next:04d}", kind, form)
            self.jobs[job.id] = job
            return 200, {}, {"id": job.id}
        if path.startswith("/templeton/v1/jobs/"):
            if request.query.get("user.name") != [self.username]:
                self.violations.append(f"{path} without user.name")
                return 400, {}, {"error": "User name must be specified"}
            job_id = path.rsplit("/", 1)[1]
            found = self.jobs.get(job_id)
            if found is None:
                return 404, {}, {"error": f"job {job_id} not found"}
            if request.method == "DELETE":
                found.state = "KILLED"
            return 200, {}, self._job_json(found)
        return 404, {}, {"error": f"no route {path}"}

    @staticmethod
    def _job_json(job: FakeTempletonJob) -> dict[str, Any]:
        done = job.state in ("SUCCEEDED", "FAILED", "KILLED")
        return {
            "status": {
                "state": job.state,
                "startTime": job.start_time,
                "finishTime": job.finish_time if done else 0,
                "failureInfo": job.failure_info,
                "jobID": job.id,
                "jobId": job.id,
                "username": "admin",
                "jobComplete": done,
            },
            "profile": {"jobName": f"TempletonControllerJob-{job.kind}", "user": "admin"},
            "id": job.id,
            "parentId": None,
            "percentComplete": "100% complete" if done else "map 50% reduce 0%",
            "exitValue": job.exit_value,
            "user": "admin",
            "callback": None,
            "completed": "done" if done else None,
            "userargs": {k: v if len(v) > 1 else v[0] for k, v in job.form.items()},
        }
