"""A small client for the jobclusters HTTP API (what the CLI and the demo call).

Errors come back as `ApiClientError` carrying the API's JSON error (code, message, problems with JSON
paths), so a caller can print exactly what the server found wrong.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import requests

KEY_HEADER = "x-functions-key"
# Characters of a non-JSON error answer quoted in ApiClientError.
_ERROR_CHARS = 500


class ApiClientError(RuntimeError):
    def __init__(self, status: int, code: str, message: str, problems: list[dict[str, Any]] | None = None):
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.problems = problems or []


@dataclass
class ApiClient:
    base_url: str
    key: str | None = None
    timeout: float = 30.0
    session: requests.Session = field(default_factory=requests.Session)

    def _call(self, method: str, path: str, body: Any = None, params: dict[str, Any] | None = None) -> Any:
        headers = {KEY_HEADER: self.key} if self.key else {}
        url = f"{self.base_url.rstrip('/')}/api/{path.lstrip('/')}"
        try:
            response = self.session.request(
                method, url, json=body, params=params, headers=headers, timeout=self.timeout
            )
        except requests.RequestException as exc:
            raise ApiClientError(0, "unreachable", f"{method} {url}: {type(exc).__name__}: {exc}") from exc
        try:
            data = response.json()
        except ValueError:
            data = None
        if response.status_code >= 400:
            error = data.get("error") if isinstance(data, dict) else None
            if isinstance(error, dict):
                raise ApiClientError(
                    response.status_code,
                    str(error.get("code")),
                    str(error.get("message")),
                    error.get("problems"),
                )
            raise ApiClientError(
                response.status_code, "http_error", response.text[:_ERROR_CHARS] or response.reason
            )
        return data

    def register_job(
        self,
        definition: dict[str, Any],
        *,
        job_id: str | None = None,
        base_dir: str | None = None,
        format: str | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"definition": definition}
        for name, value in (("job_id", job_id), ("base_dir", base_dir), ("format", format)):
            if value is not None:
                body[name] = value
        return dict(self._call("POST", "jobs", body))

    def list_jobs(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "jobs")["jobs"])

    def get_job(self, job_id: str) -> dict[str, Any]:
        return dict(self._call("GET", f"jobs/{job_id}"))

    def delete_job(self, job_id: str) -> None:
        self._call("DELETE", f"jobs/{job_id}")

    def start_job(
        self,
        job_id: str,
        parameters: dict[str, Any] | None = None,
        *,
        idempotency_key: str | None = None,
        source: str = "cli",
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"parameters": parameters or {}, "source": source}
        if idempotency_key:
            body["idempotency_key"] = idempotency_key
        return dict(self._call("POST", f"jobs/{job_id}/runs", body))

    def get_run(self, run_id: str) -> dict[str, Any]:
        return dict(self._call("GET", f"runs/{run_id}"))

    def list_runs(self, **query: Any) -> dict[str, Any]:
        params = {k: v for k, v in query.items() if v is not None}
        return dict(self._call("GET", "runs", params=params))

    def cancel_run(self, run_id: str, reason: str | None = None) -> dict[str, Any]:
        return dict(self._call("POST", f"runs/{run_id}/cancel", {"reason": reason} if reason else {}))

    def repair_run(
        self, run_id: str, tasks: list[str] | None = None, *, rerun_dependents: bool = True
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"rerun_dependents": rerun_dependents}
        if tasks:
            body["tasks"] = tasks
        return dict(self._call("POST", f"runs/{run_id}/repair", body))

    def task_logs(self, run_id: str, task_key: str) -> dict[str, Any]:
        return dict(self._call("GET", f"runs/{run_id}/tasks/{task_key}/logs"))
