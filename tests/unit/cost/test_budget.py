from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from jobclusters.cost.budget import (
    BudgetWatch,
    WatchedRun,
    check_running,
    cost_so_far,
    effective_budget,
    start_check,
)
from jobclusters.cost.catalogue import snapshot
from jobclusters.cost.models import Cost
from jobclusters.spec import load_definition
from jobclusters.spec.model import Budget, Job
from jobclusters.tracking.models import ComputeInfo, RunState, TaskRunRecord

NOW = datetime(2026, 12, 6, 5, 0, tzinfo=UTC)
TAGS = {"Project": "p", "Environment": "e", "CostCenter": "c", "Owner": "o"}


def document(**extra: Any) -> dict[str, Any]:
    return {
        "format": "jobclusters/v1",
        "name": "nightly",
        "tags": TAGS,
        "job_clusters": [
            {
                "key": "pool",
                "cluster": {"platform": "batch", "node_type": "Standard_D2s_v3", "num_workers": 1},
            }
        ],
        "tasks": [
            {
                "key": "work",
                "compute": {"kind": "job_cluster", "job_cluster_key": "pool"},
                "payload": {"kind": "command", "command_line": "true"},
                "timeout_seconds": 3600,
            }
        ],
        **extra,
    }


def job(**extra: Any) -> Job:
    result = load_definition(document(**extra), format="native")
    assert result.job is not None and result.ok, result.errors
    return result.job


def test_a_run_whose_worst_case_exceeds_the_budget_is_refused_or_warned() -> None:
    # worst: (3600 + 600 start-up) s of one D2s_v3 node
    refused = start_check(
        job(budget={"max_run_cost": 0.01}), "j", snapshot(), month_spent=None, region="eastus"
    )
    assert refused.refused and "worst case" in refused.refused[0] and "0.01" in refused.refused[0]
    warned = start_check(
        job(budget={"max_run_cost": 0.01, "action": "warn"}),
        "j",
        snapshot(),
        month_spent=None,
        region="eastus",
    )
    assert not warned.refused and warned.warnings
    fine = start_check(job(budget={"max_run_cost": 5}), "j", snapshot(), month_spent=None, region="eastus")
    assert fine == type(fine)()


def test_a_spent_monthly_budget_refuses_new_runs() -> None:
    monthly = job(budget={"max_monthly_cost": 10})
    assert start_check(monthly, "j", snapshot(), month_spent=10.0, region="eastus").refused
    assert not start_check(monthly, "j", snapshot(), month_spent=9.99, region="eastus").refused


def test_imported_formats_spell_the_budget_in_tags() -> None:
    tagged = job(tags={**TAGS, "jobclusters.max_run_cost": "2.5", "jobclusters.action": "warn"})
    assert effective_budget(tagged) == Budget(max_run_cost=2.5, action="warn")


@pytest.mark.parametrize(
    ("extra", "path"),
    [
        ({"budget": {"max_run_cost": -1}}, "$.budget.max_run_cost"),
        ({"budget": {"max_run_cost": "lots"}}, "$.budget.max_run_cost"),
        ({"budget": {"max_run_cost": 1, "action": "panic"}}, "$.budget.action"),
        ({"tags": {**TAGS, "jobclusters.max_run_cost": "lots"}}, '$.tags["jobclusters.max_run_cost"]'),
        ({"tags": {**TAGS, "jobclusters.max_run_cost": "-3"}}, '$.tags["jobclusters.max_run_cost"]'),
    ],
)
def test_a_bad_budget_is_a_validation_error_naming_its_path(extra: dict[str, Any], path: str) -> None:
    result = load_definition(document(**extra), format="native")
    assert not result.ok
    assert path in [p.path for p in result.errors], result.errors


def _row(key: str, state: RunState, start: int, end: int | None, cost: float | None = None) -> TaskRunRecord:
    return TaskRunRecord(
        run_id="r",
        task_key=key,
        state=state,
        start_time=NOW + timedelta(seconds=start),
        end_time=NOW + timedelta(seconds=end) if end is not None else None,
        cost=Cost(estimate=cost, low=cost, high=cost, basis="b") if cost is not None else None,
    )


def test_cost_so_far_counts_ended_attempts_and_running_ones_until_now() -> None:
    info = ComputeInfo(kind="batch", node_size="Standard_D2s_v3", node_count=10, mode="onDemand")
    rows = [
        _row("a", RunState.SUCCESS, 0, 60, cost=0.5),
        _row("b", RunState.RUNNING, 0, None).model_copy(update={"compute": info}),
        _row("c", RunState.RUNNING, 1800, None),
        _row("d", RunState.RUNNING, 0, None),
    ]
    node = snapshot().vm["eastus"]["standard_d2s_v3"].pay_as_you_go
    later = NOW + timedelta(hours=1)
    so_far = cost_so_far(rows, snapshot(), later, region="eastus", simulated=True, hourly={"c": 2.0})
    assert so_far == pytest.approx(0.5 + 10 * node + 1.0, abs=1e-5)  # d: no compute and no price known


class MemoryTable:
    def __init__(self) -> None:
        self.rows: dict[str, dict[str, Any]] = {}

    def upsert_entity(self, entity: dict[str, Any]) -> None:
        self.rows[entity["RowKey"]] = dict(entity)

    def query_entities(self, _filter: str, parameters: dict[str, Any]) -> list[dict[str, Any]]:
        return list(self.rows.values())

    def delete_entity(self, _pk: str, rk: str) -> None:
        self.rows.pop(rk, None)


def test_the_watch_cancels_a_run_over_budget_once_and_forgets_ended_runs() -> None:
    watch = BudgetWatch(MemoryTable())
    for run_id, limit in (("over", 0.1), ("under", 100.0), ("ended", 0.1)):
        watch.watch(
            WatchedRun(run_id=run_id, tracked_run_id=run_id, job_id="j", budget=Budget(max_run_cost=limit))
        )
    canceled: list[tuple[str, str]] = []

    async def status_of(run_id: str) -> str | None:
        return "Completed" if run_id == "ended" else "Running"

    async def cancel(run_id: str, reason: str) -> None:
        canceled.append((run_id, reason))

    def tasks_of(run_id: str) -> list[TaskRunRecord]:
        return [_row("a", RunState.SUCCESS, 0, 60, cost=0.5)]

    def tick() -> list[str]:
        return asyncio.run(
            check_running(
                watch, tasks_of, status_of, cancel, snapshot(), NOW, region="eastus", simulated=False
            )
        )

    assert tick() == ["over"]
    assert canceled[0][0] == "over" and "crossed its budget" in canceled[0][1] and "0.5000" in canceled[0][1]
    assert [r.run_id for r in watch.running()] == ["under"]
    assert tick() == []


def test_a_spent_monthly_budget_per_tag_value_refuses_new_runs() -> None:
    from jobclusters.cost.budget import tag_budget_problems

    limits = {"CostCenter": {"c": 100.0, "other": 1.0}, "Team": {"x": 5.0}}
    spent = {("CostCenter", "c"): 100.0}
    tagged = job()  # CostCenter=c, no Team tag
    found = tag_budget_problems(tagged, limits, lambda name, value: spent.get((name, value), 0.0))
    assert found == ["budget: this month's runs tagged CostCenter=c cost 100.0000, the monthly budget is 100"]
    assert tag_budget_problems(tagged, limits, lambda name, value: 99.5) == []


def test_a_policy_monthly_budget_must_be_positive() -> None:
    from jobclusters.cost.policy import PolicyError, parse_policy

    with pytest.raises(PolicyError) as raised:
        parse_policy({"cost_optimization": {"monthly_budgets": {"CostCenter": {"c": -5}}}})
    assert raised.value.problems[0][0] == "$.cost_optimization.monthly_budgets.CostCenter.c"
