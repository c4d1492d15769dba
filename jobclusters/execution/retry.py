"""Task retry arithmetic (Databricks `max_retries` / `min_retry_interval_millis` / `retry_on_timeout`,
ADF `retry` / `retryIntervalInSeconds`, both mapped by the importers into `RetryPolicy`), and which
failures are permanent: only transient ones are worth another attempt.

Apart from that, `InfraRetryPolicy` is how long the app waits out its own infrastructure (storage,
tracking, a control plane) before a run fails for it: the user's retry policy is about the user's work and
never pays for an outage of ours.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from jobclusters.settings import configuration_reason, get_settings
from jobclusters.spec.model import RetryPolicy, TaskState

RETRYABLE = frozenset({TaskState.FAILED, TaskState.TIMEDOUT})


def permanent_failure(message: str | None) -> str | None:
    """The one-line reason when a failure cannot go away by trying again (a setting is missing or
    malformed: see `jobclusters.settings.ConfigurationError`), else None (transient, retried)."""
    return configuration_reason(message)


def may_retry(policy: RetryPolicy, retries_done: int, state: TaskState, message: str | None = None) -> bool:
    """Whether an attempt that ended in `state` (with failure `message`) is followed by another one."""
    if state not in RETRYABLE or permanent_failure(message) is not None:
        return False
    if state == TaskState.TIMEDOUT and not policy.retry_on_timeout:
        return False
    return policy.max_retries == -1 or retries_done < policy.max_retries


def retry_delay_millis(policy: RetryPolicy, retry_number: int) -> int:
    """Wait before retry `retry_number` (1 for the first retry): fixed, or exponential with a cap."""
    if retry_number < 1:
        raise ValueError("retry_number starts at 1")
    base = policy.min_retry_interval_millis
    if policy.backoff == "exponential":
        delay = float(base) * policy.backoff_multiplier ** (retry_number - 1)
    else:
        delay = float(base)
    cap = policy.max_retry_interval_millis
    if cap is not None:
        delay = min(delay, float(cap))
    return int(min(delay, 7 * 24 * 3600 * 1000))


@dataclass(frozen=True)
class InfraRetryPolicy:
    """Exponential backoff from `first_seconds` up to `max_interval_seconds`, for at most `bound_seconds`
    after the first failure; then the outage is reported as the run's failure."""

    bound_seconds: float
    first_seconds: float = 1.0
    max_interval_seconds: float = 15.0
    multiplier: float = 2.0

    def delay_seconds(self, failures: int) -> float:
        """The wait after the `failures`-th failure in a row (1 for the first)."""
        return min(self.first_seconds * self.multiplier ** max(0, failures - 1), self.max_interval_seconds)

    def gives_up(self, failing_for_seconds: float, failures: int) -> bool:
        """Whether the next wait would end past the bound (counted from the first failure)."""
        return failing_for_seconds + self.delay_seconds(failures) > self.bound_seconds

    def fixed_attempts(self, interval_seconds: float) -> int:
        """Attempts that cover the bound at a fixed interval (Durable's own retry knows no backoff)."""
        return 1 + math.ceil(self.bound_seconds / interval_seconds)


#: what an activity raises for bad input or a bug, not an outage: waiting it out would not help
_NOT_AN_OUTAGE = re.compile(
    r"failed: (?:[\w.]+\.)?(?:ValueError|ValidationError|TypeError|KeyError|AttributeError|AssertionError"
    r"|\w+MappingError|InvalidRunRequest|ConfigurationError)\b"
)


def outage_worth_waiting(message: str) -> bool:
    """Whether an activity failure may be our infrastructure blinking (retried for the policy's bound),
    rather than bad input, a missing setting or a bug (raised at once)."""
    return permanent_failure(message) is None and _NOT_AN_OUTAGE.search(message) is None


def infra_retry_policy() -> InfraRetryPolicy:
    """The policy of this app, from `JOBCLUSTERS_INFRA_RETRY_SECONDS`."""
    return InfraRetryPolicy(bound_seconds=get_settings().infra_retry_seconds)


class InfrastructureUnavailable(RuntimeError):
    """An infrastructure call kept failing for longer than the policy's bound: the run fails for us."""

    def __init__(self, what: str, seconds: float, reason: str) -> None:
        super().__init__(
            f"infrastructure unavailable: {what} kept failing for {seconds:.0f} s "
            f"(the app waits out {infra_retry_policy().bound_seconds:.0f} s): {reason}"
        )
