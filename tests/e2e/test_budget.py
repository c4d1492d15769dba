"""Budgets on the embedded default: a run whose worst case is over its budget is refused before anything
runs; a run whose cost so far crosses its budget is canceled while it runs, with a message that says so."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from jobclusters.tracking.table_store import TableRunStore
from tests.e2e.conftest import AppHost, batch_job
from tests.e2e.test_cli import cli

pytestmark = pytest.mark.integration


def write(folder: Path, name: str, document: dict[str, Any]) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


def test_a_run_over_budget_at_start_is_refused(app_host: AppHost, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    document = batch_job("refused-budget", {"work": f"touch {marker}"}, budget={"max_run_cost": 0.0001})
    document["tasks"][0]["timeout_seconds"] = 3600

    result = cli(app_host, "run", str(write(tmp_path, "refused", document)), "--json")

    assert result.returncode == 1
    shown = json.loads(result.stdout.strip().splitlines()[-1])
    view = app_host.client.get_run(shown["run_id"])
    assert (
        view["result"] == "FAILED" and "worst case" in view["message"] and "max_run_cost" in view["message"]
    )
    assert not marker.exists()


def test_a_running_run_that_crosses_its_budget_is_canceled(app_host: AppHost, tmp_path: Path) -> None:
    done = tmp_path / "second-finished"
    document = batch_job(
        "budget-cancel",
        {"first": "sleep 1", "second": f"sleep 60 && touch {done}"},
        budget={"max_run_cost": 0.00001},  # no timeouts: the worst case is unbounded, so it starts
    )

    result = cli(app_host, "run", str(write(tmp_path, "budget", document)), "--json", timeout=150)

    shown = json.loads(result.stdout.strip().splitlines()[-1])
    assert shown["result"] == "CANCELED", shown
    view = app_host.client.get_run(shown["run_id"])
    assert "crossed its budget" in view["message"] and "budget" in view["message"]
    # the watch prices a running attempt at its task's hourly price: it may stop the first task already
    assert "CANCELED" in {view["tasks"]["first"]["state"], view["tasks"]["second"]["state"]}
    assert view["tasks"]["second"]["state"] != "SUCCESS" and not done.exists()
    store = TableRunStore(app_host.connection, table_prefix=app_host.table_prefix)
    record, _ = store.get_run_with_tasks(shown["run_id"])
    assert record is not None and record.state.value == "CANCELED" and record.cost is not None
