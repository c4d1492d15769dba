"""Task retry arithmetic (Databricks `max_retries` / `min_retry_interval_millis` / `retry_on_timeout`,
ADF `retry` / `retryIntervalInSeconds`, both mapped by the importers into `RetryPolicy`)."""

from __future__ import annotations

from jobclusters.spec.model import RetryPolicy, TaskState

RETRYABLE = frozenset({TaskState.FAILED, TaskState.TIMEDOUT})


def may_retry(policy: RetryPolicy, retries_done: int, state: TaskState) -> bool:
    """Whether an attempt that ended in `state` is followed by another one."""
    if state not in RETRYABLE:
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
