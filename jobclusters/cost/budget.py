"""Budgets: a job's `budget` (or, in imported formats, its `jobclusters.*` tags), checked at three points.

- At start (the admission activity): a run whose worst case exceeds `max_run_cost` is refused (`cancel`)
  or started with a warning (`warn`); a run whose job has spent `max_monthly_cost` this calendar month
  (UTC) is refused.
- While it runs (a timer, `triggers/budget_watch.py`): what its ended attempts cost plus what its running
  attempts have cost so far; once that crosses `max_run_cost` the run is canceled the way the cancel API
  does it (the cancel event), with a message that says so.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from jobclusters.cost.catalogue import PriceCatalogue
from jobclusters.cost.estimate import estimate
from jobclusters.cost.ledger import task_cost
from jobclusters.spec.model import Budget, Job
from jobclusters.spec.problems import Problems
from jobclusters.tracking.models import RunState, TaskRunRecord

log = logging.getLogger("jobclusters.cost.budget")

TAG_PREFIX = "jobclusters."
_TAG_FIELDS = {"max_run_cost", "max_monthly_cost", "currency", "action"}
BUDGET_ACTOR = "budget"


def _tag_values(job: Job) -> dict[str, str]:
    return {k[len(TAG_PREFIX) :]: v for k, v in job.tags.items() if k.startswith(TAG_PREFIX)}


def _budget_tags(job: Job) -> dict[str, str]:
    return {k: v for k, v in _tag_values(job).items() if k in _TAG_FIELDS}


def effective_budget(job: Job) -> Budget | None:
    """The job's `budget`, else the one its `jobclusters.*` tags spell (ignored when invalid: the
    validation reports it)."""
    if job.budget is not None:
        return job.budget
    tags = _budget_tags(job)
    if not tags.get("max_run_cost") and not tags.get("max_monthly_cost"):
        return None
    try:
        return Budget.model_validate(tags)
    except ValidationError:
        return None


def check_budget_tags(job: Job, problems: Problems, tags_path: str = "$.tags") -> None:
    """A budget in tags must read as one: a positive number, a currency code, cancel or warn."""
    tags = _budget_tags(job)
    if not tags or job.budget is not None:
        return
    try:
        Budget.model_validate(tags)
    except ValidationError as exc:
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else "max_run_cost"
            problems.error(f'{tags_path}["{TAG_PREFIX}{field}"]', error["msg"], "budget")


class StartCheck(BaseModel):
    model_config = ConfigDict(extra="forbid")

    refused: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)


def start_check(
    job: Job,
    job_id: str,
    catalogue: PriceCatalogue,
    *,
    month_spent: float | None,
    region: str,
) -> StartCheck:
    """Whether a run of `job` may start against its budget (`month_spent`: this month's runs so far)."""
    budget = effective_budget(job)
    found = StartCheck()
    if budget is None:
        return found
    currency = budget.currency
    if currency != catalogue.currency:
        found.warnings.append(f"budget in {currency}, prices in {catalogue.currency}: not checked")
        return found
    if (
        budget.max_monthly_cost is not None
        and month_spent is not None
        and month_spent >= budget.max_monthly_cost
    ):
        found.refused.append(
            f"budget: this month's runs of job {job_id} cost {month_spent:.4f} {currency}, "
            f"max_monthly_cost is {budget.max_monthly_cost:g} {currency}"
        )
    if budget.max_run_cost is not None:
        worst = estimate(job, job_id, catalogue, {}, region=region).total.worst
        if worst is not None and worst > budget.max_run_cost:
            message = (
                f"budget: the worst case of a run is {worst:.4f} {currency}, "
                f"max_run_cost is {budget.max_run_cost:g} {currency}"
            )
            (found.refused if budget.action == "cancel" else found.warnings).append(message)
        elif worst is None:
            found.warnings.append(
                "budget: a run's worst case is unbounded (no timeout): watched while it runs"
            )
    return found


def month_start(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def spent(runs: Iterable[Any], since: datetime) -> float:
    """The recorded costs of the runs (index rows) created since `since`."""
    return sum(r.estimated_cost or 0.0 for r in runs if r.created_at >= since)


def cost_so_far(
    tasks: Sequence[TaskRunRecord],
    catalogue: PriceCatalogue,
    now: datetime,
    *,
    region: str,
    simulated: bool,
    hourly: Mapping[str, float] | None = None,
) -> float:
    """Ended attempts at their recorded cost; running ones as if they ended now: priced from their
    compute when the row has it, else at the task's hourly price from the job (`hourly`), at the high end
    (a spot fallback or an autoscale range counts at its dearest)."""
    total = 0.0
    for task in tasks:
        if task.cost is not None:
            total += task.cost.estimate or 0.0
        elif task.state in (RunState.RUNNING, RunState.TERMINATING) and task.start_time is not None:
            pretend = task.model_copy(update={"end_time": now, "state": RunState.CANCELED})
            cost = task_cost(pretend, catalogue, region=region, simulated=simulated)
            if cost is not None:
                total += cost.high or 0.0
            elif hourly and task.task_key in hourly:
                total += hourly[task.task_key] * max(0.0, (now - task.start_time).total_seconds()) / 3600
    return total


def over_budget_message(so_far: float, budget: Budget) -> str:
    return (
        f"the run's cost so far, {so_far:.4f} {budget.currency}, crossed its budget "
        f"(max_run_cost {budget.max_run_cost:g} {budget.currency})"
    )


class WatchedRun(BaseModel):
    model_config = ConfigDict(extra="forbid")

    run_id: str
    tracked_run_id: str
    job_id: str
    budget: Budget
    hourly: dict[str, float] = Field(default_factory=dict, description="task key -> its price per hour")
    warned: bool = False


class BudgetWatch:
    """The runs with a `max_run_cost` still running (Table rows), for the watch timer."""

    PARTITION = "running"

    def __init__(self, table: Any) -> None:
        self._table = table

    def watch(self, run: WatchedRun) -> None:
        self._table.upsert_entity(
            {"PartitionKey": self.PARTITION, "RowKey": run.run_id, "Run": run.model_dump_json()}
        )

    def running(self) -> list[WatchedRun]:
        rows = self._table.query_entities("PartitionKey eq @pk", parameters={"pk": self.PARTITION})
        found = []
        for row in rows:
            try:
                found.append(WatchedRun.model_validate_json(row["Run"]))
            except (ValidationError, KeyError):
                log.warning("budget watch: unreadable row %s dropped", row.get("RowKey"))
                self._table.delete_entity(self.PARTITION, row["RowKey"])
        return found

    def forget(self, run_id: str) -> None:
        self._table.delete_entity(self.PARTITION, run_id)


_ENDED = frozenset({"Completed", "Failed", "Terminated", "Canceled"})


async def check_running(
    watch: BudgetWatch,
    tasks_of: Callable[[str], Sequence[TaskRunRecord]],
    status_of: Callable[[str], Awaitable[str | None]],
    cancel: Callable[[str, str], Awaitable[None]],
    catalogue: PriceCatalogue,
    now: datetime,
    *,
    region: str,
    simulated: bool,
) -> list[str]:
    """One tick of the watch: cancel (or warn about, once) each running run whose cost so far crossed its
    `max_run_cost`; forget the runs that ended. Returns the runs canceled."""
    canceled = []
    for run in watch.running():
        runtime = await status_of(run.run_id)
        if runtime is None or runtime in _ENDED:
            watch.forget(run.run_id)
            continue
        limit = run.budget.max_run_cost
        so_far = cost_so_far(
            tasks_of(run.tracked_run_id),
            catalogue,
            now,
            region=region,
            simulated=simulated,
            hourly=run.hourly,
        )
        if limit is None or so_far <= limit:
            continue
        message = over_budget_message(so_far, run.budget)
        if run.budget.action == "warn":
            if not run.warned:
                log.warning("run %s of job %s: %s", run.run_id, run.job_id, message)
                watch.watch(run.model_copy(update={"warned": True}))
            continue
        await cancel(run.run_id, message)
        watch.forget(run.run_id)
        canceled.append(run.run_id)
    return canceled


def tag_budget_problems(
    job: Job, limits: Mapping[str, Mapping[str, float]], spent_by_tag: Callable[[str, str], float]
) -> list[str]:
    """The policy's monthly budgets per tag value that this job's tags fall under and that are spent."""
    problems = []
    for name, by_value in limits.items():
        value = job.tags.get(name)
        limit = by_value.get(value) if value is not None else None
        if limit is None or value is None:
            continue
        used = spent_by_tag(name, value)
        if used >= limit:
            problems.append(
                f"budget: this month's runs tagged {name}={value} cost {used:.4f}, "
                f"the monthly budget is {limit:g}"
            )
    return problems
