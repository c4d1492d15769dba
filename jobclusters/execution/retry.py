"""Task retry arithmetic (Databricks `max_retries` / `min_retry_interval_millis` / `retry_on_timeout`,
ADF `retry` / `retryIntervalInSeconds`, both mapped by the importers into `RetryPolicy`), and which
failures are permanent: only transient ones are worth another attempt."""

from __future__ import annotations

from jobclusters.settings import configuration_reason
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
