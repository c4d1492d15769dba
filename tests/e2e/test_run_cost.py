"""On the embedded default a run's cost is what the same run would cost on Azure: each task attempt is
priced from its measured times and the job's SKU, and the run's cost is exactly its tasks' plus its
overhead lines, the same in Table storage, the HTTP view and `run --json`."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
import yaml

from jobclusters.cost.catalogue import snapshot
from jobclusters.cost.models import amount_text
from jobclusters.tracking.models import TaskRunRecord
from jobclusters.tracking.table_store import TableRunStore
from tests.e2e.conftest import AppHost, batch_job
from tests.e2e.test_cli import cli, write_job

pytestmark = pytest.mark.integration


def assert_priced_on_its_own_time(row: TaskRunRecord) -> None:
    """Priced (never null) at the job's node rate for the time the attempt measured. A `test -e` can take
    under 20 ms, which is less than a millionth of a dollar: zero is then the right figure."""
    node_hour = snapshot().vm["eastus"]["standard_d2s_v3"].pay_as_you_go
    assert row.cost is not None and row.cost.estimate is not None, row
    assert row.start_time is not None and row.end_time is not None
    billed = (row.end_time - row.start_time).total_seconds() + (row.queue_seconds or 0)
    assert row.cost.estimate == pytest.approx(node_hour * billed / 3600, abs=2e-6)


def test_a_run_costs_the_sum_of_its_tasks_and_overheads(app_host: AppHost, tmp_path: Path) -> None:
    job = write_job(tmp_path, "costed", {"first": "sleep 1", "second": "true"})

    result = cli(app_host, "run", str(job), "--json")

    assert result.returncode == 0, result.stdout + result.stderr
    shown = json.loads(result.stdout.strip().splitlines()[-1])
    run_id = shown["run_id"]
    store = TableRunStore(app_host.connection, table_prefix=app_host.table_prefix)
    record, rows = store.get_run_with_tasks(run_id)
    assert record is not None and record.cost is not None and record.cost.estimate is not None
    for row in rows:
        assert_priced_on_its_own_time(row)
        assert row.cost is not None
        assert "embedded default" in row.cost.basis and "Standard_D2s_v3" in row.cost.basis
        assert row.compute is not None and (row.compute.nodes_seen_min, row.compute.nodes_seen_max) == (1, 1)
        assert "node-h measured (1..1 nodes seen)" in row.cost.basis, "its polls counted the pool's node"
    overhead = sum(line.estimate or 0.0 for line in record.cost.overhead)
    tasks_total = sum(r.cost.estimate or 0.0 for r in rows if r.cost is not None)
    assert record.cost.estimate == pytest.approx(tasks_total + overhead, abs=2e-6)
    assert record.estimated_cost == record.cost.estimate and record.cost_currency == "USD"

    view = app_host.client.get_run(run_id)
    assert view["cost"]["estimate"] == record.cost.estimate
    tasks = sum(t["cost"]["estimate"] for t in view["tasks"].values())
    assert view["cost"]["estimate"] == pytest.approx(
        tasks + sum(line["estimate"] for line in view["cost"]["overhead"]), abs=2e-6
    )
    assert shown["cost"] == view["cost"]
    assert {k: t["cost"] for k, t in shown["tasks"].items()} == {
        k: t["cost"] for k, t in view["tasks"].items()
    }
    status = cli(app_host, "status", run_id).stdout
    assert "COST" in status and f"total cost: {amount_text(record.cost.estimate)} USD" in status
    assert datetime.fromisoformat(view["end"]) >= datetime.fromisoformat(view["start"])

    summed = json.loads(cli(app_host, "costs", "--job", record.job_id, "--since", "1d", "--json").stdout)
    assert summed["total"]["estimate"] == pytest.approx(record.cost.estimate, abs=2e-6)
    by_tag = json.loads(cli(app_host, "costs", "--by", "tag:CostCenter", "--since", "1d", "--json").stdout)
    assert by_tag["groups"]["cc-0"]["estimate"] >= record.cost.estimate - 2e-6


def test_the_estimate_of_a_job_is_at_least_what_its_run_cost(app_host: AppHost, tmp_path: Path) -> None:
    job = tmp_path / "bounded.yaml"
    document = batch_job("bounded", {"work": "sleep 1", "more": "true"})
    for task in document["tasks"]:
        task["timeout_seconds"] = 60
    job.write_text(yaml.safe_dump(document), encoding="utf-8")
    before = json.loads(cli(app_host, "estimate", str(job), "--json").stdout)
    assert before["past_runs"] == 0 and before["total"]["expected"] is None

    result = cli(app_host, "run", str(job), "--json")

    assert result.returncode == 0, result.stdout + result.stderr
    actual = json.loads(result.stdout.strip().splitlines()[-1])["cost"]["estimate"]
    after = json.loads(cli(app_host, "estimate", str(job), "--json").stdout)
    assert after["past_runs"] == 1
    assert before["total"]["worst"] >= actual and after["total"]["worst"] >= actual
    assert after["total"]["expected"] == pytest.approx(
        sum(t["expected"] for t in after["tasks"].values()), abs=1e-6
    )
    assert after["total"]["expected"] <= actual + 1e-6  # the tasks' share; the overhead lines are the rest


def test_a_repaired_run_costs_every_attempt_of_every_generation(app_host: AppHost, tmp_path: Path) -> None:
    client = app_host.client
    fixed = tmp_path / "fixed"
    job = client.register_job(batch_job("costed-repair", {"work": f"test -e {fixed}"}))
    run_id = client.start_job(job["job_id"])["run_id"]
    assert app_host.wait_run_done(run_id)["result"] == "FAILED"
    fixed.write_text("ok")
    repair = client.repair_run(run_id)
    assert app_host.wait_run_done(repair["run_id"])["result"] == "SUCCESS"

    store = TableRunStore(app_host.connection, table_prefix=app_host.table_prefix)
    record, rows = store.get_run_with_tasks(run_id)
    assert record is not None and record.generation == 1 and record.cost is not None
    assert sorted(r.generation for r in rows) == [0, 1]
    for row in rows:
        assert_priced_on_its_own_time(row)
    paid = sum(r.cost.estimate or 0.0 for r in rows if r.cost is not None)
    overhead = sum(line.estimate or 0.0 for line in record.cost.overhead)
    assert record.cost.estimate == pytest.approx(paid + overhead, abs=2e-6)
    view = app_host.wait_run_done(run_id)
    assert view["tasks"]["work"]["cost"]["estimate"] == pytest.approx(paid, abs=2e-6)
