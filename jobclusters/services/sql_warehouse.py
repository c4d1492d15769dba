"""A sql_task on a Databricks SQL warehouse, through the SQL Statement Execution API 2.0.

`POST /api/2.0/sql/statements` (asynchronous: `wait_timeout: "0s"`, `on_wait_timeout: CONTINUE`, named
parameters), `GET /api/2.0/sql/statements/{id}` (`status.state`: PENDING, RUNNING, SUCCEEDED, FAILED,
CANCELED, CLOSED; `manifest`, `result.data_array`), `POST /api/2.0/sql/statements/{id}/cancel`. The API
runs one statement per call, so the task's SQL must be one statement. It has no idempotency key: a
submit retried after a lost answer may run the statement twice (as a retried query in any SQL client).
Authentication, retries and throttling are the Databricks service's (the same workspace client).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jobclusters.localshim.sql import split_statements
from jobclusters.services.cluster import (
    Backend,
    ClusterRunRequest,
    InvalidRunRequest,
    LifeCycle,
    ResultState,
    RunHandle,
    RunOutput,
    RunState,
    SqlTask,
    TaskOutput,
)
from jobclusters.services.databricks import DatabricksClusterJobService

STATEMENTS = "/api/2.0/sql/statements"
#: rows of the result kept in the task's log and values
SHOWN_ROWS = 100
_STATES = {
    "SUCCEEDED": ResultState.SUCCESS,
    "FAILED": ResultState.FAILED,
    "CANCELED": ResultState.CANCELED,
    "CLOSED": ResultState.CANCELED,
}
_HEADERS = {"Accept": "application/json", "Content-Type": "application/json"}


def statement_text(task: SqlTask, base_dir: str | None, path: str) -> str:
    if task.query_text is not None:
        text = task.query_text
    else:
        assert task.file is not None
        file = (
            Path(task.file) if Path(task.file).is_absolute() or not base_dir else Path(base_dir) / task.file
        )
        if not file.is_file():
            raise InvalidRunRequest(f"{task.file!r}: the .sql file is not readable by the app ({file})", path)
        text = file.read_text(encoding="utf-8")
    statements = split_statements(text)
    if len(statements) != 1:
        raise InvalidRunRequest(
            f"a SQL warehouse runs one statement per sql_task; this SQL has {len(statements)}", path
        )
    return statements[0]


def _time(millis: Any) -> datetime | None:
    return datetime.fromtimestamp(millis / 1000, UTC) if isinstance(millis, int | float) else None


class SqlWarehouseService(DatabricksClusterJobService):
    backend: Backend = "sql_warehouse"

    def submit(self, request: ClusterRunRequest, idempotency_key: str) -> RunHandle:
        task = request.tasks[0]
        if task.sql_task is None or not task.sql_task.warehouse_id:
            raise InvalidRunRequest("a sql_task on a SQL warehouse needs warehouse_id", "$.tasks[0].sql_task")
        sql = task.sql_task
        body = {
            "warehouse_id": sql.warehouse_id,
            "statement": statement_text(sql, request.base_dir, "$.tasks[0].sql_task"),
            "wait_timeout": "0s",
            "on_wait_timeout": "CONTINUE",
            "format": "JSON_ARRAY",
            "disposition": "INLINE",
            "parameters": [{"name": k, "value": v} for k, v in sorted(sql.parameters.items())],
        }
        answer = self._call(
            "sql/statements",
            lambda: self._client.api_client.do("POST", STATEMENTS, body=body, headers=_HEADERS),
        )
        statement_id = answer.get("statement_id") if isinstance(answer, dict) else None
        if not statement_id:
            raise InvalidRunRequest(f"the SQL warehouse answered without statement_id: {answer!r}")
        return RunHandle(
            backend="sql_warehouse",
            run_id=str(statement_id),
            idempotency_key=idempotency_key,
            task_run_ids={task.task_key: str(statement_id)},
        )

    def _statement(self, handle: RunHandle) -> dict[str, Any]:
        answer = self._call(
            "sql/statements/get",
            lambda: self._client.api_client.do("GET", f"{STATEMENTS}/{handle.run_id}", headers=_HEADERS),
        )
        return answer if isinstance(answer, dict) else {}

    def get_state(self, handle: RunHandle) -> RunState:
        status = self._statement(handle).get("status") or {}
        state = str(status.get("state") or "PENDING")
        result = _STATES.get(state)
        error = status.get("error") or {}
        message = (
            str(error.get("message") or "") if result is not None and result != ResultState.SUCCESS else ""
        )
        return RunState(
            run_id=handle.run_id,
            life_cycle=LifeCycle.TERMINATED if result is not None else LifeCycle.RUNNING,
            result=result,
            message=message,
        )

    def cancel(self, handle: RunHandle) -> None:
        self._call(
            "sql/statements/cancel",
            lambda: self._client.api_client.do(
                "POST", f"{STATEMENTS}/{handle.run_id}/cancel", headers=_HEADERS
            ),
        )

    def get_output(self, handle: RunHandle) -> RunOutput:
        statement = self._statement(handle)
        task_key = next(iter(handle.task_run_ids), "sql")
        manifest = statement.get("manifest") or {}
        columns = [str(c.get("name")) for c in (manifest.get("schema") or {}).get("columns") or []]
        rows = ((statement.get("result") or {}).get("data_array") or [])[:SHOWN_ROWS]
        lines = [" | ".join(columns)] if columns else []
        lines += [" | ".join("NULL" if v is None else str(v) for v in row) for row in rows]
        error = ((statement.get("status") or {}).get("error") or {}).get("message")
        values: dict[str, Any] = {"statement_id": handle.run_id}
        if "total_row_count" in manifest:
            values["row_count"] = manifest["total_row_count"]
        if columns and rows:
            values["first_row"] = dict(zip(columns, rows[0], strict=False))
        return RunOutput(
            run_id=handle.run_id,
            tasks=[TaskOutput(task_key=task_key, logs="\n".join(lines), error=error, task_values=values)],
        )
