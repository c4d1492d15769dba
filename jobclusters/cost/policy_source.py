"""The app's cost policy (app setting `JOBCLUSTERS_COST_POLICY`) applied to a job about to run."""

from __future__ import annotations

from datetime import UTC, datetime

from jobclusters.cost.policy import PolicyError, apply_policy, policy_at, waits_for_window
from jobclusters.services import factory
from jobclusters.settings import ConfigurationError
from jobclusters.spec.model import Job


def with_cost_policy(job: Job) -> Job:
    """`job` as the policy runs it; unchanged without a policy. A policy file that does not read is a
    configuration error naming the JSON path (every run refuses to start until it is fixed)."""
    settings = factory.settings()
    try:
        policy = policy_at(settings.cost_policy_file)
    except PolicyError as exc:
        raise ConfigurationError(
            "JOBCLUSTERS_COST_POLICY", "starting runs", str(exc), problem="malformed"
        ) from None
    if policy is None:
        return job
    return apply_policy(job, policy, factory.get_price_catalogue(), region=settings.price_region)


def cost_window_start(job: Job, now: datetime | None = None) -> str | None:
    """When a job that waits for the policy's preferred window may start; None: at once."""
    policy = policy_at(factory.settings().cost_policy_file)
    window = policy.cost_optimization.scheduling if policy is not None else None
    if window is None or not waits_for_window(job):
        return None
    now = now or datetime.now(UTC)
    start = window.next_window_start(now)
    return start.isoformat() if start > now else None
