"""`jobclusters costs`: the ledger summed over runs, grouped by job, by a tag's value or by compute.

It reads the run index rows (what `GET /api/runs` lists), which carry each ended run's cost, its cost by
compute and the job's tags. A run with no price (an unknown SKU) is counted apart, never as zero; the
overhead lines of a run, which no compute owns, are their own group when grouping by compute.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from jobclusters.cost.models import money

_SPAN = re.compile(r"^(\d+)([dhm])$")
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}
UNTAGGED = "(untagged)"
OVERHEAD = "(overhead)"


def since_time(text: str, now: datetime) -> datetime:
    """`30d`, `12h`, `90m` before now, or an ISO 8601 time."""
    found = _SPAN.fullmatch(text.strip())
    if found:
        return now - timedelta(**{_UNITS[found.group(2)]: int(found.group(1))})
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"--since: expected 30d, 12h, 90m or an ISO 8601 time, not {text!r}") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def grouping(by: str) -> str:
    if by in ("job", "compute") or (by.startswith("tag:") and len(by) > 4):
        return by
    raise ValueError(f"--by: expected job, compute or tag:NAME, not {by!r}")


class Group(BaseModel):
    model_config = ConfigDict(extra="forbid")

    runs: int = 0
    estimate: float = 0.0
    unpriced_runs: int = Field(default=0, description="ended runs with no price: not in the estimate")


class Totals(BaseModel):
    model_config = ConfigDict(extra="forbid")

    currency: str = "USD"
    since: str
    by: str
    groups: dict[str, Group] = Field(default_factory=dict)
    total: Group = Field(default_factory=Group)


def _shares(run: dict[str, Any], by: str) -> dict[str, float | None]:
    """The run's estimate split over the groups it belongs to (None: no price)."""
    estimate = run.get("estimated_cost")
    if by == "job":
        return {str(run.get("job_id")): estimate}
    if by.startswith("tag:"):
        return {str((run.get("tags") or {}).get(by[4:], UNTAGGED)): estimate}
    if estimate is None:
        return {OVERHEAD: None}
    parts: dict[str, float | None] = dict(run.get("cost_by_compute") or {})
    rest = estimate - sum(v or 0.0 for v in parts.values())
    if abs(rest) > 1e-9:
        parts[OVERHEAD] = rest
    return parts


def totals(runs: Iterable[dict[str, Any]], by: str, since: datetime) -> Totals:
    """Ended runs only: a running run's cost is not known yet."""
    result = Totals(since=since.isoformat(), by=by)
    for run in runs:
        if not run.get("end_time") or run.get("state") in ("PENDING", "QUEUED", "RUNNING", "TERMINATING"):
            continue
        if run.get("cost_currency"):
            result.currency = run["cost_currency"]
        for name, share in _shares(run, by).items():
            group = result.groups.setdefault(name, Group())
            group.runs += 1
            if share is None:
                group.unpriced_runs += 1
            else:
                group.estimate = money(group.estimate + share)
        result.total.runs += 1
        if run.get("estimated_cost") is None:
            result.total.unpriced_runs += 1
        else:
            result.total.estimate = money(result.total.estimate + run["estimated_cost"])
    result.groups = dict(sorted(result.groups.items(), key=lambda item: -item[1].estimate))
    return result
