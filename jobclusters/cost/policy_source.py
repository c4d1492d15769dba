"""The app's cost policy (app setting `JOBCLUSTERS_COST_POLICY`) applied to a job about to run."""

from __future__ import annotations

from jobclusters.cost.policy import PolicyError, apply_policy, policy_at
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
