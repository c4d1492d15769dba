from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from jobclusters.cost.totals import OVERHEAD, UNTAGGED, grouping, since_time, totals

NOW = datetime(2026, 12, 6, tzinfo=UTC)
END = "2026-12-05T10:00:00+00:00"


def run(
    job: str, cost: float | None, tags: dict[str, str], by_compute: dict[str, float]
) -> dict[str, object]:
    return {
        "run_id": f"r-{job}-{cost}",
        "job_id": job,
        "state": "SUCCESS",
        "end_time": END,
        "estimated_cost": cost,
        "cost_currency": "USD",
        "tags": tags,
        "cost_by_compute": by_compute,
    }


RUNS = [
    run(
        "etl", 1.5, {"CostCenter": "cc-1"}, {"batch Standard_D2s_v3": 1.0, "databricks Standard_DS3_v2": 0.25}
    ),
    run("etl", 0.5, {"CostCenter": "cc-1"}, {"batch Standard_D2s_v3": 0.5}),
    run("ml", 2.0, {}, {"databricks Standard_DS3_v2": 2.0}),
    run("ml", None, {}, {}),
    {**run("ml", None, {}, {}), "state": "RUNNING", "end_time": None},
]


def test_by_job_by_tag_and_by_compute_add_up_to_the_same_total() -> None:
    for by in ("job", "tag:CostCenter", "compute"):
        summed = totals(RUNS, by, NOW)
        assert summed.total.estimate == 4.0 and summed.total.runs == 4 and summed.total.unpriced_runs == 1
        assert sum(g.estimate for g in summed.groups.values()) == pytest.approx(4.0)
    assert totals(RUNS, "job", NOW).groups["etl"].estimate == 2.0
    by_tag = totals(RUNS, "tag:CostCenter", NOW).groups
    assert by_tag["cc-1"].estimate == 2.0 and by_tag[UNTAGGED].unpriced_runs == 1
    by_compute = totals(RUNS, "compute", NOW).groups
    assert by_compute["databricks Standard_DS3_v2"].estimate == 2.25
    assert by_compute[OVERHEAD].estimate == pytest.approx(0.25)


def test_since_and_by_are_checked() -> None:
    assert since_time("30d", NOW) == NOW - timedelta(days=30)
    assert since_time("12h", NOW) == NOW - timedelta(hours=12)
    assert since_time("2026-12-01", NOW) == datetime(2026, 12, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="--since"):
        since_time("soon", NOW)
    with pytest.raises(ValueError, match="--by"):
        grouping("tag:")
    assert grouping("tag:Project") == "tag:Project"
