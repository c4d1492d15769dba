"""The app's cost policy (app setting `JOBCLUSTERS_COST_POLICY`) applied to a job about to run."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from jobclusters.cost.policy import CostPolicy, PolicyError, apply_policy, policy_at, waits_for_window
from jobclusters.services import factory
from jobclusters.settings import ConfigurationError
from jobclusters.spec.model import Job

log = logging.getLogger("jobclusters.cost.policy")


def policy_problem() -> str | None:
    """Why the configured policy file cannot be applied (its JSON paths), else None."""
    try:
        policy_at(factory.settings().cost_policy_file)
    except PolicyError as exc:
        return str(
            ConfigurationError("JOBCLUSTERS_COST_POLICY", "the cost policy", str(exc), problem="malformed")
        )
    return None


def current_policy() -> CostPolicy | None:
    try:
        return policy_at(factory.settings().cost_policy_file)
    except PolicyError as exc:
        log.error("cost policy not applied: %s", exc)  # the run's admission refuses it, naming the paths
        return None


def with_cost_policy(job: Job) -> Job:
    """`job` as the policy runs it; unchanged without a policy (or with one that does not read: the
    run's admission then refuses the run with the policy's problems)."""
    policy = current_policy()
    if policy is None:
        return job
    try:
        return apply_policy(
            job, policy, factory.get_price_catalogue(), region=factory.settings().price_region
        )
    except ValueError as exc:  # pydantic's ValidationError too: the job as written runs, and it is logged
        log.error("cost policy not applied to job %s: %s", job.name, exc)
        return job


def cost_window_start(job: Job, now: datetime | None = None) -> str | None:
    """When a job that waits for the policy's preferred window may start; None: at once."""
    policy = current_policy()
    window = policy.cost_optimization.scheduling if policy is not None else None
    if window is None or not waits_for_window(job):
        return None
    now = now or datetime.now(UTC)
    start = window.next_window_start(now)
    return start.isoformat() if start > now else None
