"""sql_task on a SQL warehouse against a loopback Statement Execution API 2.0 server (databricks-sdk's real
HTTP client): the documented request shape, the states, the error, cancel and the result rows."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jobclusters.services.cluster import InvalidRunRequest, LifeCycle, ResultState, parse_run_request
from jobclusters.services.databricks import workspace_client
from jobclusters.services.retries import BackoffPolicy
from jobclusters.services.sql_warehouse import SqlWarehouseService
from tests.clocks import SleepClock
from tests.fakes.databricks_rest import Answer, LoopbackJsonServer, Recorded

TOKEN = "dapi-sql-test-token"


class FakeWarehouse(LoopbackJsonServer):
    def __init__(self) -> None:
        super().__init__()
        self.statements: dict[str, dict[str, Any]] = {}

    def handle(self, request: Recorded) -> Answer:
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return 401, {}, {"error_code": "UNAUTHENTICATED", "message": "bad token"}
        parts = request.path.rstrip("/").split("/")
        if request.method == "POST" and request.path.rstrip("/") == "/api/2.0/sql/statements":
            body = request.body
            for field in ("warehouse_id", "statement"):
                if not isinstance(body.get(field), str):
                    self.violations.append(f"{field} missing")
            if body.get("wait_timeout") != "0s" or body.get("on_wait_timeout") != "CONTINUE":
                self.violations.append("not asynchronous")
            sid = f"01ef-{len(self.statements) + 1}"
            self.statements[sid] = {"statement_id": sid, "status": {"state": "PENDING"}}
            return 200, {}, self.statements[sid]
        if request.method == "GET" and len(parts) == 6:
            return 200, {}, self.statements[parts[5]]
        if request.method == "POST" and parts[-1] == "cancel":
            self.statements[parts[5]]["status"] = {"state": "CANCELED"}
            return 200, {}, {}
        return 404, {}, {"error_code": "NOT_FOUND", "message": request.path}


@pytest.fixture
def fake() -> Iterator[FakeWarehouse]:
    with FakeWarehouse() as server:
        yield server


def _service(fake: FakeWarehouse) -> SqlWarehouseService:
    clock = SleepClock(1000.0)
    policy = BackoffPolicy(max_attempts=3, base_delay=0.01, budget_seconds=30)
    return SqlWarehouseService(workspace_client(fake.url, token=TOKEN), policy=policy, sleep=clock.sleep)


def _request(sql_task: dict[str, Any], base_dir: str | None = None) -> Any:
    task = {"task_key": "report", "sql_task": {"warehouse_id": "wh-1", **sql_task}}
    return parse_run_request({"run_id": "run-1", "tasks": [task], "base_dir": base_dir})


def test_a_file_statement_runs_with_named_parameters_and_its_rows_are_the_output(
    fake: FakeWarehouse, tmp_path: Path
) -> None:
    (tmp_path / "q.sql").write_text("-- daily\nSELECT region, total FROM sales WHERE day = :day;\n")
    service = _service(fake)
    handle = service.submit(
        _request({"file": "q.sql", "parameters": {"day": "2026-01-01"}}, str(tmp_path)), "k"
    )
    (sent,) = fake.calls("POST", "/api/2.0/sql/statements")
    assert sent.body["statement"] == "SELECT region, total FROM sales WHERE day = :day"
    assert sent.body["warehouse_id"] == "wh-1"
    assert sent.body["parameters"] == [{"name": "day", "value": "2026-01-01"}]
    assert fake.violations == []
    assert service.get_state(handle).life_cycle == LifeCycle.RUNNING

    fake.statements[handle.run_id] |= {
        "status": {"state": "SUCCEEDED"},
        "manifest": {"schema": {"columns": [{"name": "region"}, {"name": "total"}]}, "total_row_count": 2},
        "result": {"data_array": [["eu", "10"], ["us", None]]},
    }
    state = service.get_state(handle)
    assert (state.life_cycle, state.result) == (LifeCycle.TERMINATED, ResultState.SUCCESS)
    out = service.get_output(handle).task("report")
    assert out.logs == "region | total\neu | 10\nus | NULL"
    assert out.task_values == {
        "statement_id": handle.run_id,
        "row_count": 2,
        "first_row": {"region": "eu", "total": "10"},
    }


def test_a_failed_statement_carries_the_warehouses_message_and_cancel_is_sent(fake: FakeWarehouse) -> None:
    service = _service(fake)
    handle = service.submit(_request({"query_text": "SELECT * FROM missing"}), "k")
    fake.statements[handle.run_id]["status"] = {
        "state": "FAILED",
        "error": {"error_code": "BAD_REQUEST", "message": "[TABLE_OR_VIEW_NOT_FOUND] missing"},
    }
    state = service.get_state(handle)
    assert (state.result, state.message) == (ResultState.FAILED, "[TABLE_OR_VIEW_NOT_FOUND] missing")

    other = service.submit(_request({"query_text": "SELECT 1"}), "k2")
    service.cancel(other)
    assert fake.calls("POST", f"/api/2.0/sql/statements/{other.run_id}/cancel")
    assert service.get_state(other).result == ResultState.CANCELED


def test_more_than_one_statement_or_an_unreadable_file_is_refused_before_any_call(
    fake: FakeWarehouse, tmp_path: Path
) -> None:
    service = _service(fake)
    with pytest.raises(InvalidRunRequest, match="one statement per sql_task; this SQL has 2"):
        service.submit(_request({"query_text": "SELECT 1; SELECT 2"}), "k")
    with pytest.raises(InvalidRunRequest, match="not readable by the app"):
        service.submit(_request({"file": "nope.sql"}, str(tmp_path)), "k")
    assert fake.calls("POST", "/api/2.0/sql/statements") == []
