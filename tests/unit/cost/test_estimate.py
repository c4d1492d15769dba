from __future__ import annotations

import pytest

from jobclusters.cost.catalogue import snapshot
from jobclusters.cost.estimate import STARTUP_ALLOWANCE_SECONDS, estimate
from jobclusters.spec.model import Job


def job(**task_extra: object) -> Job:
    return Job.model_validate(
        {
            "name": "nightly",
            "job_clusters": [
                {
                    "key": "pool",
                    "cluster": {"platform": "batch", "node_type": "Standard_D2s_v3", "num_workers": 2},
                },
                {
                    "key": "spark",
                    "cluster": {
                        "platform": "databricks",
                        "node_type": "Standard_DS3_v2",
                        "autoscale": {"min_workers": 1, "max_workers": 4},
                    },
                },
            ],
            "tasks": [
                {
                    "key": "load",
                    "compute": {"kind": "job_cluster", "job_cluster_key": "pool"},
                    "payload": {"kind": "command", "command_line": "true"},
                    "timeout_seconds": 3600,
                    "retry": {"max_retries": 1},
                    **task_extra,
                },
                {
                    "key": "transform",
                    "compute": {"kind": "job_cluster", "job_cluster_key": "spark"},
                    "payload": {"kind": "notebook", "path": "/n"},
                    "timeout_seconds": 1800,
                },
                {
                    "key": "check",
                    "payload": {"kind": "condition", "op": "EQUAL_TO", "left": "1", "right": "1"},
                },
            ],
        }
    )


def test_worst_is_every_attempt_to_its_timeout_on_the_most_nodes() -> None:
    prices = snapshot()
    found = estimate(job(), "nightly", prices, {})
    node = prices.vm["eastus"]["standard_d2s_v3"].pay_as_you_go
    load = found.tasks["load"]
    assert load.worst == pytest.approx(2 * (3600 + STARTUP_ALLOWANCE_SECONDS) / 3600 * 2 * node, abs=1e-5)
    assert load.price_per_hour == pytest.approx(2 * node)
    spark = (
        prices.vm["eastus"]["standard_ds3_v2"].pay_as_you_go
        + 0.75 * prices.databricks_dbu_rates["jobs_compute"]
    )
    assert found.tasks["transform"].worst == pytest.approx(
        5 * spark * (1800 + STARTUP_ALLOWANCE_SECONDS) / 3600, abs=1e-5
    )
    assert found.tasks["check"].worst == 0.0
    assert found.total.worst == pytest.approx(
        (load.worst or 0) + (found.tasks["transform"].worst or 0), abs=1e-6
    )
    assert found.total.expected is None and found.tasks["load"].expected is None


def test_expected_is_the_median_of_past_runs() -> None:
    found = estimate(job(), "nightly", snapshot(), {"load": [0.1, 0.3, 0.2], "transform": [1.0]}, past_runs=3)
    assert found.tasks["load"].expected == 0.2 and found.tasks["transform"].expected == 1.0
    assert found.total.expected == pytest.approx(1.2)


def test_no_timeout_or_endless_retries_have_no_worst_case_and_say_so() -> None:
    found = estimate(job(timeout_seconds=None), "nightly", snapshot(), {})
    assert found.tasks["load"].worst is None and "unbounded" in found.tasks["load"].basis
    assert found.total.worst is None
    forever = estimate(job(retry={"max_retries": -1}), "nightly", snapshot(), {})
    assert forever.tasks["load"].worst is None and "forever" in forever.tasks["load"].basis
