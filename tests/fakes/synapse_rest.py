"""A loopback Synapse dev endpoint: the Spark batch API (`/livyApi/versions/{v}/sparkPools/{pool}/batches`).

Checks the bearer token, the api version in the path, known pools, and the `SparkBatchJobOptions` body
(`name` and `file` required, known fields, types). Answers with the `SparkBatchJob` shape: `livyInfo`,
`schedulerInfo`, `result` (Uncertain/Succeeded/Failed/Cancelled), `errorInfo`, `state`, `log`, `tags`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tests.fakes.databricks_rest import Answer, LoopbackJsonServer, Recorded

API_VERSION = "2019-11-01-preview"
OPTION_FIELDS = {
    "tags",
    "artifactId",
    "name",
    "file",
    "className",
    "args",
    "jars",
    "pyFiles",
    "files",
    "archives",
    "conf",
    "driverMemory",
    "driverCores",
    "executorMemory",
    "executorCores",
    "numExecutors",
}
INT_FIELDS = ("driverCores", "executorCores", "numExecutors")
_ENDED_AT = {"success": "successAt", "dead": "deadAt", "error": "deadAt", "killed": "terminatedAt"}
_RESULT_FOR = {"success": "Succeeded", "dead": "Failed", "error": "Failed", "killed": "Cancelled"}


def _iso() -> str:
    return datetime.now(tz=UTC).isoformat().replace("+00:00", "Z")


@dataclass
class FakeSparkBatch:
    id: int
    pool: str
    body: dict[str, Any]
    state: str = "not_started"
    log: list[str] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)
    submitted_at: str = field(default_factory=_iso)
    running_at: str | None = None
    ended_at: str | None = None

    def json(self) -> dict[str, Any]:
        ended = self.state in _RESULT_FOR
        return {
            "livyInfo": {
                "notStartedAt": self.submitted_at,
                "runningAt": self.running_at,
                **({_ENDED_AT[self.state]: self.ended_at} if self.state in _ENDED_AT else {}),
                "currentState": self.state,
                "jobCreationRequest": self.body,
            },
            "name": self.body.get("name"),
            "workspaceName": "loopbackws",
            "sparkPoolName": self.pool,
            "submitterName": "tester@example.com",
            "submitterId": "00000000-0000-0000-0000-000000000000",
            "artifactId": self.body.get("artifactId"),
            "jobType": "SparkBatch",
            "result": _RESULT_FOR.get(self.state, "Uncertain"),
            "schedulerInfo": {
                "submittedAt": self.submitted_at,
                "scheduledAt": self.running_at,
                "endedAt": self.ended_at,
                "currentState": "Ended" if ended else "Scheduled",
            },
            "pluginInfo": {"currentState": "Ended" if ended else "Monitoring"},
            "errorInfo": self.errors,
            "tags": self.body.get("tags") or {},
            "id": self.id,
            "appId": f"application_1700000000000_{self.id:04d}" if self.running_at else None,
            "appInfo": {"sparkUiUrl": f"https://web.azuresynapse.net/sparkui/{self.id}"}
            if self.running_at
            else None,
            "state": self.state,
            "log": self.log,
        }


class FakeSynapse(LoopbackJsonServer):
    def __init__(
        self, token: str = "synapse-loopback-token", pools: tuple[str, ...] = ("sparkpool01",)
    ) -> None:
        super().__init__()
        self.token = token
        self.pools = set(pools)
        self.batches: dict[int, FakeSparkBatch] = {}
        self._next = 1

    def set_batch(
        self,
        batch_id: int,
        state: str,
        *,
        log: list[str] | None = None,
        errors: list[dict[str, str]] | None = None,
    ) -> None:
        with self.lock:
            batch = self.batches[batch_id]
            batch.state = state
            if state != "not_started" and batch.running_at is None:
                batch.running_at = _iso()
            if state in _RESULT_FOR:
                batch.ended_at = _iso()
            if log is not None:
                batch.log = log
            if errors is not None:
                batch.errors = errors

    @staticmethod
    def _error(status: int, code: str, message: str) -> Answer:
        return status, {}, {"error": {"code": code, "message": message}}

    def _check(self, body: Any) -> list[str]:
        if not isinstance(body, dict):
            return ["body must be a SparkBatchJobOptions object"]
        errors = [f"unknown property {k!r}" for k in body if k not in OPTION_FIELDS]
        for name in ("name", "file"):
            if not isinstance(body.get(name), str) or not body[name]:
                errors.append(f"{name} is required")
        for name in INT_FIELDS:
            if name in body and not isinstance(body[name], int):
                errors.append(f"{name} must be an integer")
        for name in ("conf", "tags"):
            value = body.get(name, {})
            if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
                errors.append(f"{name} must map strings to strings")
        return errors

    def handle(self, request: Recorded) -> Answer:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            self.violations.append(f"{request.method} {request.path} without the bearer token")
            return self._error(401, "Unauthorized", "Token is invalid")
        parts = request.path.strip("/").split("/")
        if (
            len(parts) < 6
            or parts[0] != "livyApi"
            or parts[1] != "versions"
            or parts[3] != "sparkPools"
            or parts[5] != "batches"
        ):
            self.violations.append(f"unexpected path {request.path}")
            return self._error(404, "NotFound", f"no route {request.path}")
        if parts[2] != API_VERSION:
            self.violations.append(f"api version {parts[2]}")
            return self._error(400, "InvalidApiVersion", f"api version {parts[2]} is not supported")
        pool = parts[4]
        if pool not in self.pools:
            return self._error(404, "BigDataPoolNotFound", f"Spark pool {pool} not found")
        if len(parts) == 6 and request.method == "GET":
            start = int(request.query.get("from", ["0"])[0])
            size = int(request.query.get("size", ["20"])[0])
            jobs = [b.json() for b in sorted(self.batches.values(), key=lambda b: b.id) if b.pool == pool]
            return 200, {}, {"from": start, "total": len(jobs), "sessions": jobs[start : start + size]}
        if len(parts) == 6 and request.method == "POST":
            errors = self._check(request.body)
            if errors:
                self.violations.extend(errors)
                return self._error(400, "SparkJobDefinitionInvalid", "; ".join(errors))
            if not str(request.body["file"]).startswith(("abfss://", "wasbs://", "https://")):
                return self._error(
                    400,
                    "InvalidFilePath",
                    f"file {request.body['file']} must be a path in the workspace's storage",
                )
            batch = FakeSparkBatch(self._next, pool, request.body)
            self._next += 1
            self.batches[batch.id] = batch
            return 200, {}, batch.json()
        if len(parts) == 7:
            batch_id = int(parts[6]) if parts[6].isdigit() else -1
            found = self.batches.get(batch_id)
            if found is None or found.pool != pool:
                return self._error(404, "SparkBatchJobNotFound", f"batch {parts[6]} not found")
            if request.method == "GET":
                return 200, {}, found.json()
            if request.method == "DELETE":
                found.state = "killed"
                found.ended_at = _iso()
                return 200, {}, None
        return self._error(405, "MethodNotAllowed", f"{request.method} {request.path}")
