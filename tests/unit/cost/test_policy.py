from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from jobclusters.cost.catalogue import snapshot
from jobclusters.cost.policy import PolicyError, Scheduling, apply_policy, parse_policy, policy_at
from jobclusters.execution.batch_mapping import pool_spec_from_cluster
from jobclusters.execution.cluster_mapping import cluster_spec
from jobclusters.spec.model import Job

SEED = Path("/work/shared/seed/examples/cost-optimization.json")
POLICY: dict[str, Any] = {
    "cost_optimization": {
        "spot_instances": {"enabled": True, "max_price_percentage": 50, "fallback_to_on_demand": True},
        "auto_termination": {"idle_minutes": 30, "force_termination_hours": 8},
        "resource_tagging": {"Project": "{{project_name}}", "AutoShutdown": "enabled", "CostCenter": "cc-9"},
        "scheduling": {
            "preferred_hours": "09:00-17:00",
            "preferred_days": "Monday-Friday",
            "timezone": "UTC",
        },
    }
}


def job() -> Job:
    return Job.model_validate(
        {
            "name": "j",
            "tags": {"CostCenter": "cc-1"},
            "timeout_seconds": 3600,
            "job_clusters": [
                {
                    "key": "spark",
                    "cluster": {"platform": "databricks", "node_type": "Standard_DS3_v2", "num_workers": 2},
                },
                {
                    "key": "home",
                    "cluster": {
                        "platform": "databricks",
                        "node_type": "Standard_DS3_v2",
                        "home": {
                            "spark_version": "15.4.x-scala2.12",
                            "node_type_id": "Standard_DS3_v2",
                            "num_workers": 1,
                        },
                    },
                },
                {
                    "key": "pool",
                    "cluster": {
                        "platform": "batch",
                        "node_type": "Standard_D2s_v3",
                        "home": {
                            "vmSize": "Standard_D2s_v3",
                            "targetDedicatedNodes": 3,
                            "metadata": [{"name": "Owner", "value": "me"}],
                        },
                    },
                },
            ],
        }
    )


def test_the_seed_policy_file_reads() -> None:
    if not SEED.exists():
        pytest.skip("the seed guide is not on this machine")
    policy = parse_policy(json.loads(SEED.read_text()))
    assert policy.cost_optimization.spot_instances.max_price_percentage == 50


def test_spot_tags_and_auto_termination_reach_the_clusters_and_the_job() -> None:
    applied = apply_policy(job(), parse_policy(POLICY), snapshot(), region="eastus")
    assert applied.timeout_seconds == 3600  # its own, shorter than the forced 8 h
    assert applied.tags == {"CostCenter": "cc-1", "AutoShutdown": "enabled"}  # the job's win; no placeholder
    spark = applied.job_clusters[0].cluster
    on_demand = snapshot().vm["eastus"]["standard_ds3_v2"].pay_as_you_go
    assert spark.spot is not None and spark.spot.max_price == pytest.approx(on_demand / 2, abs=1e-5)
    request = cluster_spec(spark)
    assert request.azure_attributes is not None
    assert request.azure_attributes.availability == "SPOT_WITH_FALLBACK_AZURE"
    assert request.azure_attributes.spot_bid_max_price == spark.spot.max_price
    assert request.custom_tags == {"AutoShutdown": "enabled", "CostCenter": "cc-9"}
    assert spark.auto_termination_minutes == 30
    home = cluster_spec(applied.job_clusters[1].cluster)
    assert (
        home.azure_attributes is not None and home.azure_attributes.availability == "SPOT_WITH_FALLBACK_AZURE"
    )
    assert home.custom_tags["AutoShutdown"] == "enabled"
    pool = pool_spec_from_cluster(applied.job_clusters[2].cluster, "p1")
    assert (pool.target_dedicated_nodes, pool.target_low_priority_nodes) == (0, 3)
    assert {m.name: m.value for m in pool.metadata or []} == {
        "Owner": "me",
        "AutoShutdown": "enabled",
        "CostCenter": "cc-9",
    }
    assert job().job_clusters[0].cluster.spot is None  # the input job is not changed


def test_a_forced_stop_is_a_hard_timeout() -> None:
    endless = job().model_copy(update={"timeout_seconds": None})
    assert (
        apply_policy(endless, parse_policy(POLICY), snapshot(), region="eastus").timeout_seconds == 8 * 3600
    )


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"surprise": 1}, "$.cost_optimization.surprise"),
        ({"scheduling": {"preferred_hours": "9-5"}}, "$.cost_optimization.scheduling.preferred_hours"),
        (
            {"scheduling": {"preferred_hours": "10:00-10:00"}},
            "$.cost_optimization.scheduling.preferred_hours",
        ),
        ({"scheduling": {"preferred_days": "Funday"}}, "$.cost_optimization.scheduling.preferred_days"),
        ({"scheduling": {"timezone": "Mars/Olympus"}}, "$.cost_optimization.scheduling.timezone"),
        (
            {"spot_instances": {"max_price_percentage": 150}},
            "$.cost_optimization.spot_instances.max_price_percentage",
        ),
        ({"auto_termination": {"idle_minutes": "soon"}}, "$.cost_optimization.auto_termination.idle_minutes"),
    ],
)
def test_a_bad_policy_names_the_json_path(change: dict[str, Any], path: str) -> None:
    with pytest.raises(PolicyError) as raised:
        parse_policy({"cost_optimization": {**POLICY["cost_optimization"], **change}})
    assert path in [p for p, _ in raised.value.problems]


def test_an_unreadable_policy_file_is_an_error(tmp_path: Path) -> None:
    broken = tmp_path / "policy.json"
    broken.write_text("{not json")
    with pytest.raises(PolicyError):
        policy_at(broken)
    assert policy_at(None) is None


def test_the_preferred_window_and_when_it_next_opens() -> None:
    window = Scheduling(
        preferred_hours="09:00-17:00", preferred_days="Monday-Friday", timezone="Europe/Paris"
    )
    friday_evening = datetime(2026, 12, 4, 18, 0, tzinfo=UTC)  # 19:00 in Paris
    assert not window.is_open(friday_evening)
    assert window.next_window_start(friday_evening) == datetime(2026, 12, 7, 8, 0, tzinfo=UTC)  # Monday 09:00
    monday_noon = datetime(2026, 12, 7, 11, 0, tzinfo=UTC)
    assert window.is_open(monday_noon) and window.next_window_start(monday_noon) == monday_noon
    night = Scheduling(preferred_hours="22:00-06:00", preferred_days="Monday-Sunday")
    assert night.is_open(datetime(2026, 12, 6, 3, 0, tzinfo=UTC))
    assert night.next_window_start(datetime(2026, 12, 6, 12, 0, tzinfo=UTC)) == datetime(
        2026, 12, 6, 22, 0, tzinfo=UTC
    )


def test_the_app_policy_applies_at_start_and_a_bad_one_is_a_named_problem(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from jobclusters.cost.policy_source import cost_window_start, policy_problem, with_cost_policy

    path = tmp_path / "policy.json"
    path.write_text(json.dumps(POLICY))
    monkeypatch.setenv("JOBCLUSTERS_COST_POLICY", str(path))
    assert policy_problem() is None
    assert with_cost_policy(job()).tags["AutoShutdown"] == "enabled"
    waiting = job().model_copy(update={"tags": {"jobclusters.wait_for_window": "true"}})
    saturday = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
    assert cost_window_start(waiting, saturday) == datetime(2026, 12, 7, 9, 0, tzinfo=UTC).isoformat()
    assert cost_window_start(job(), saturday) is None  # a job that does not ask to wait starts at once
    path.write_text(json.dumps({"cost_optimization": {"scheduling": {"timezone": "Nowhere/Town"}}}))
    problem = policy_problem()
    assert problem is not None and "JOBCLUSTERS_COST_POLICY" in problem
    assert "$.cost_optimization.scheduling.timezone" in problem
    assert with_cost_policy(job()) == job()
