"""The budget part of a run's admission: refuse (or warn about) a run at start, and watch the ones with
a `max_run_cost` while they run. Called by the admission activity once the request itself is accepted."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from jobclusters.cost.budget import (
    WatchedRun,
    effective_budget,
    month_start,
    spent,
    start_check,
    tag_budget_problems,
)
from jobclusters.cost.estimate import estimate
from jobclusters.cost.policy_source import current_policy, policy_problem
from jobclusters.run_request import RunRequest
from jobclusters.services import factory

log = logging.getLogger("jobclusters.cost.admission")
#: index rows read to sum a month of a job's runs (a page is newest first)
_MONTH_PAGE = 200


def month_spent(job_id: str, now: datetime) -> float:
    """What this calendar month's ended runs of the job cost (the run index rows, newest first)."""
    store = factory.get_run_store()
    since = month_start(now)
    total, token = 0.0, None
    while True:
        page = store.list_runs_for_job(job_id, page_size=_MONTH_PAGE, token=token)
        total += spent(page.items, since)
        token = page.continuation_token
        if not token or any(r.created_at < since for r in page.items):
            return total


def tag_spent(name: str, value: str, now: datetime) -> float:
    """What this calendar month's ended runs tagged `name=value` cost, over every job (the run index by
    day)."""
    store = factory.get_run_store()
    since = month_start(now)
    total, token = 0.0, None
    while True:
        page = store.list_runs(since=since, until=now, page_size=_MONTH_PAGE, token=token)
        total += spent((r for r in page.items if r.tags.get(name) == value), since)
        token = page.continuation_token
        if not token:
            return total


def budget_problems(request: RunRequest, now: datetime | None = None) -> list[str]:
    """Why the run may not start on budget grounds (empty: it may); a run it lets start with a
    `max_run_cost` is watched while it runs."""
    problem = policy_problem()
    if problem is not None:
        return [problem]
    job = request.job
    now = now or datetime.now(UTC)
    policy = current_policy()
    if policy is not None and policy.cost_optimization.monthly_budgets:
        refused = tag_budget_problems(
            job, policy.cost_optimization.monthly_budgets, lambda name, value: tag_spent(name, value, now)
        )
        if refused:
            return refused
    budget = effective_budget(job)
    if budget is None:
        return []
    settings = factory.settings()
    monthly = month_spent(request.job_id, now) if budget.max_monthly_cost is not None else None
    catalogue = factory.get_price_catalogue()
    check = start_check(job, request.job_id, catalogue, month_spent=monthly, region=settings.price_region)
    for warning in check.warnings:
        log.warning("run %s of job %s: %s", request.run_id, request.job_id, warning)
    if check.refused:
        return check.refused
    if budget.max_run_cost is not None:
        tracked = request.repair.of_run_id if request.repair else request.run_id
        prices = estimate(job, request.job_id, catalogue, {}, region=settings.price_region)
        hourly = {k: t.price_per_hour for k, t in prices.tasks.items() if t.price_per_hour is not None}
        watched = WatchedRun(
            run_id=request.run_id, tracked_run_id=tracked, job_id=request.job_id, budget=budget, hourly=hourly
        )
        factory.get_budget_watch().watch(watched)
    return []
