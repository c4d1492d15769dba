from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from jobclusters.cost.catalogue import PriceCatalogue, snapshot
from jobclusters.cost.ledger import run_cost, shared_cluster_overheads, task_cost
from jobclusters.cost.models import OverheadLine
from jobclusters.cost.pricing import Usage, price
from jobclusters.tracking.models import ComputeInfo, RunState, TaskRunRecord

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def catalogue() -> PriceCatalogue:
    return PriceCatalogue.model_validate(
        {
            "as_of": date(2026, 11, 1),
            "vm": {
                "eastus": {
                    "Standard_D2s_v3": {"pay_as_you_go": 0.1, "spot": 0.02, "low_priority": 0.03},
                    "Standard_DS3_v2": {"pay_as_you_go": 0.3, "spot": 0.05},
                }
            },
            "databricks_dbu_rates": {"jobs_compute": 0.3, "all_purpose": 0.55},
            "databricks_dbus_per_node": {"Standard_DS3_v2": 0.75},
            "synapse_vcore_hour": 0.15,
            "synapse_node_vcores": {"Small": 4, "Medium": 8},
            "hdinsight_node_hour": {"Standard_D13_v2": 0.9},
        }
    )


def usage(**overrides: object) -> Usage:
    base: dict[str, object] = {
        "platform": "batch",
        "node_type": "Standard_D2s_v3",
        "nodes_min": 2,
        "nodes_max": 2,
        "run_seconds": 3600,
    }
    return Usage.model_validate({**base, **overrides})


def test_on_demand_nodes_times_hours() -> None:
    cost = price(usage(), catalogue())
    assert (cost.estimate, cost.low, cost.high, cost.currency) == (0.2, 0.2, 0.2, "USD")
    assert "Standard_D2s_v3" in cost.basis and "as of 2026-11-01" in cost.basis


def test_startup_is_billed_when_the_compute_was_created_for_the_run_only() -> None:
    whole = price(usage(startup_seconds=1800), catalogue())
    shared = price(usage(startup_seconds=1800, charge="share"), catalogue())
    assert whole.estimate == pytest.approx(0.3)
    assert shared.estimate == pytest.approx(0.2)
    assert "charged whole" in whole.basis and "share" in shared.basis


def test_batch_low_priority_and_spot_with_fallback_range() -> None:
    assert price(usage(capacity="low_priority"), catalogue()).estimate == pytest.approx(0.06)
    fallback = price(usage(capacity="spot", spot_fallback=True), catalogue())
    assert (fallback.estimate, fallback.low, fallback.high) == (pytest.approx(0.04), 0.04, 0.2)


def test_autoscale_range_without_measurement() -> None:
    cost = price(usage(nodes_min=1, nodes_max=5), catalogue())
    assert (cost.low, cost.estimate, cost.high) == (
        pytest.approx(0.1),
        pytest.approx(0.3),
        pytest.approx(0.5),
    )
    measured = price(usage(nodes_min=1, nodes_max=5, node_seconds=2 * 3600), catalogue())
    assert measured.estimate == pytest.approx(0.2)


def test_databricks_node_is_vm_plus_dbus_and_the_driver_is_on_demand() -> None:
    cost = price(
        usage(platform="databricks", node_type="Standard_DS3_v2", nodes_min=3, nodes_max=3, capacity="spot"),
        catalogue(),
    )
    driver = 0.3 + 0.75 * 0.3
    worker = 0.05 + 0.75 * 0.3
    assert cost.estimate == pytest.approx(driver + 2 * worker)
    all_purpose = price(
        usage(
            platform="databricks",
            node_type="Standard_DS3_v2",
            nodes_min=1,
            nodes_max=1,
            dbu_compute="all_purpose",
        ),
        catalogue(),
    )
    assert all_purpose.estimate == pytest.approx(0.3 + 0.75 * 0.55)


def test_synapse_vcores_and_hdinsight_node_hours() -> None:
    synapse = price(usage(platform="synapse", node_type="Medium", nodes_min=3, nodes_max=3), catalogue())
    assert synapse.estimate == pytest.approx(3 * 8 * 0.15)
    hdi = price(usage(platform="hdinsight", node_type="standard_d13_v2"), catalogue())
    assert hdi.estimate == pytest.approx(1.8)


def test_unknown_sku_is_null_with_the_reason_never_zero() -> None:
    cost = price(usage(node_type="Standard_Nope"), catalogue())
    assert cost.estimate is None and cost.low is None and cost.high is None
    assert "Standard_Nope" in cost.basis and cost.basis.startswith("no price")
    no_dbus = price(usage(platform="databricks", node_type="Standard_D2s_v3"), catalogue())
    assert no_dbus.estimate is None and "DBU" in no_dbus.basis


def test_unknown_region_prices_at_the_default_region_and_says_so() -> None:
    cost = price(usage(region="mars-north"), catalogue())
    assert cost.estimate == pytest.approx(0.2)
    assert "mars-north" in cost.basis


def test_embedded_default_costs_are_labelled() -> None:
    assert "embedded default" in price(usage(simulated=True), catalogue()).basis


def test_the_shipped_snapshot_prices_the_examples_skus() -> None:
    shipped = snapshot()
    assert shipped.sources and shipped.as_of.year >= 2025
    for sku in (
        "Standard_DS3_v2",
        "Standard_DS4_v2",
        "standard_d4s_v3",
        "Standard_NC6s_v3",
    ):
        assert price(usage(platform="databricks", node_type=sku), shipped).estimate
    assert price(usage(platform="hdinsight", node_type="Standard_D13_v2"), shipped).estimate
    assert price(usage(node_type="standard_d2s_v3", capacity="low_priority"), shipped).estimate


def _row(
    key: str, start: int, end: int, info: ComputeInfo, queue: float = 0.0, generation: int = 0
) -> TaskRunRecord:
    row = TaskRunRecord(
        run_id="r1",
        task_key=key,
        state=RunState.SUCCESS,
        generation=generation,
        start_time=T0 + timedelta(seconds=start),
        end_time=T0 + timedelta(seconds=end),
        queue_seconds=queue,
        compute=info,
    )
    return row.model_copy(update={"cost": task_cost(row, catalogue(), region="eastus", simulated=False)})


def test_a_run_is_its_tasks_plus_overhead_lines_and_shared_clusters_charge_idle_time() -> None:
    shared = ComputeInfo(
        kind="databricks",
        pool_or_cluster="etl",
        node_size="Standard_DS3_v2",
        node_count=2,
        mode="shared_job_cluster",
    )
    pool = ComputeInfo(
        kind="batch", pool_or_cluster="p", node_size="Standard_D2s_v3", node_count=1, mode="onDemand"
    )
    existing = ComputeInfo(
        kind="batch", pool_or_cluster="big", node_size="Standard_D2s_v3", node_count=4, mode="existing"
    )
    tasks = [
        _row("a", 600, 1800, shared, queue=600),  # the cluster starts at 0 and runs a 600..1800
        _row("b", 2400, 3600, shared),  # idle 1800..2400
        _row("c", 0, 3600, pool, queue=360),
        _row("d", 0, 3600, existing, queue=999),
    ]
    node = 0.3 + 0.75 * 0.3
    assert tasks[0].cost and tasks[0].cost.estimate == pytest.approx(2 * node * 1200 / 3600)
    assert tasks[2].cost and tasks[2].cost.estimate == pytest.approx(0.1 * 1.1)
    assert tasks[3].cost and tasks[3].cost.estimate == pytest.approx(0.4)  # its share: no start-up
    overhead = shared_cluster_overheads(tasks, catalogue(), region="eastus", simulated=False)
    assert len(overhead) == 1 and "etl" in overhead[0].what
    assert overhead[0].estimate == pytest.approx(2 * node * 1200 / 3600)
    run = run_cost(tasks, overhead)
    parts = [t.cost.estimate or 0.0 for t in tasks if t.cost] + [overhead[0].estimate or 0.0]
    assert run.estimate == pytest.approx(sum(parts), abs=1e-6)
    assert run.low is not None and run.high is not None and run.estimate is not None
    assert run.low <= run.estimate <= run.high


def test_a_run_with_an_unpriced_task_is_null_and_names_it() -> None:
    info = ComputeInfo(kind="batch", node_size="Standard_Nope", node_count=1, mode="onDemand")
    ok = ComputeInfo(kind="batch", node_size="Standard_D2s_v3", node_count=1, mode="onDemand")
    run = run_cost([_row("x", 0, 60, info), _row("y", 0, 60, ok)], [OverheadLine(what="w", estimate=0.1)])
    assert run.estimate is None and "x" in run.basis


def test_running_rows_have_no_cost_yet() -> None:
    info = ComputeInfo(kind="batch", node_size="Standard_D2s_v3", node_count=1, mode="onDemand")
    row = TaskRunRecord(run_id="r", task_key="k", state=RunState.RUNNING, start_time=T0, compute=info)
    assert task_cost(row, catalogue(), region="eastus", simulated=True) is None


def test_measured_node_time_replaces_the_middle_of_the_range() -> None:
    """An autoscale pool of 1..5 nodes the polls saw at 2 nodes for 600 s then 4 for 1200 s (mean 3.33):
    the estimate is that mean over the billed time, not the middle (3), and the basis says measured."""
    ranged = ComputeInfo(kind="batch", node_size="Standard_D2s_v3", nodes_min=1, nodes_max=5, mode="onDemand")
    measured = ranged.model_copy(
        update={
            "node_seconds": 2 * 600 + 4 * 1200,
            "observed_seconds": 1800,
            "nodes_seen_min": 2,
            "nodes_seen_max": 4,
            "nodes_last": 4,
        }
    )
    guessed = _row("a", 0, 3600, ranged).cost
    cost = _row("a", 0, 3600, measured).cost
    assert guessed is not None and guessed.estimate == pytest.approx(0.3)
    assert "middle of the range" in guessed.basis
    assert cost is not None and cost.estimate == pytest.approx(0.1 * (6000 / 1800), abs=1e-6)
    assert "measured" in cost.basis and "2..4 nodes seen" in cost.basis
    assert (cost.low, cost.high) == (pytest.approx(0.1), pytest.approx(0.5))


def test_one_sample_prices_the_count_it_saw() -> None:
    info = ComputeInfo(
        kind="batch",
        node_size="Standard_D2s_v3",
        nodes_min=1,
        nodes_max=5,
        mode="onDemand",
        node_seconds=0,
        observed_seconds=0,
        nodes_seen_min=2,
        nodes_seen_max=2,
        nodes_last=2,
    )
    cost = _row("a", 0, 3600, info).cost
    assert cost is not None and cost.estimate == pytest.approx(0.2) and "measured" in cost.basis


def test_measured_databricks_workers_are_priced_beside_the_on_demand_driver() -> None:
    """Cluster events count workers (the driver is apart): a mean of 3 workers seen on a 2..6 autoscale."""
    info = ComputeInfo(
        kind="databricks",
        node_size="Standard_DS3_v2",
        nodes_min=3,
        nodes_max=7,
        mode="on_demand_job_cluster",
        spot=True,
        node_seconds=3 * 600,
        observed_seconds=600,
        nodes_seen_min=2,
        nodes_seen_max=4,
    )
    cost = _row("a", 0, 3600, info).cost
    driver, worker = 0.3 + 0.75 * 0.3, 0.05 + 0.75 * 0.3
    assert cost is not None and cost.estimate == pytest.approx(driver + 3 * worker, abs=1e-6)
    assert "2..4 nodes seen" in cost.basis
