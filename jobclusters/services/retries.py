"""Retries of transient answers (429/503 with Retry-After, other 5xx, connection errors) for every remote
service: Batch, Databricks, HDInsight (Livy) and Synapse.

Each service only says which of its errors are transient (by raising `RetryableError`); when and how often
to try again is decided here, once. A server's `Retry-After` is honoured and, with a shared token bucket,
pauses every caller of the bucket. Attempts and total time are both bounded, because an activity must not
hang on a sick API. Clock and sleep are injectable so tests never wait.
"""

from __future__ import annotations

import email.utils
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from jobclusters.services.rate_limit import TokenBucket

T = TypeVar("T")
log = logging.getLogger(__name__)

# Timeout, throttled, and the 5xx answers that mean "later" (not 501 Not Implemented, say).
TRANSIENT_STATUS = frozenset({408, 429, 500, 502, 503, 504})


def is_transient_status(status: int) -> bool:
    return status in TRANSIENT_STATUS


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header: delta-seconds or an HTTP date; None when absent/bad."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


@dataclass(frozen=True)
class BackoffPolicy:
    """Bounds of the retries of one service; `None` budget or Retry-After cap means unbounded."""

    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    budget_seconds: float | None = 60.0
    max_retry_after: float | None = None

    def backoff(self, attempt: int) -> float:
        """Full-jitter exponential backoff for attempt 1, 2, ..."""
        ceiling = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        return random.uniform(ceiling / 2, ceiling)

    def wait_for(self, attempt: int, retry_after: float | None) -> float:
        """The server's Retry-After (capped when the policy caps it), else the backoff."""
        if retry_after is None:
            return self.backoff(attempt)
        if self.max_retry_after is None:
            return retry_after
        return min(retry_after, self.max_retry_after)


class RetryableError(Exception):
    """Raised by a call wrapper for a throttled or transient answer; `retry_after` from the server if any."""

    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


def call_with_retries(
    fn: Callable[[], T],
    *,
    policy: BackoffPolicy,
    bucket: TokenBucket | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    what: str = "request",
) -> T:
    """Run `fn` under the bucket; retry `RetryableError` honouring Retry-After, within the policy's bounds.

    The last `RetryableError` propagates when the attempts or the time budget run out.
    """
    started = clock()
    attempt = 0
    while True:
        attempt += 1
        if bucket is not None:
            bucket.acquire()
        try:
            return fn()
        except RetryableError as exc:
            delay = policy.wait_for(attempt, exc.retry_after)
            if exc.retry_after is not None and bucket is not None:
                bucket.pause(delay)
            spent = clock() - started
            over_budget = policy.budget_seconds is not None and spent + delay > policy.budget_seconds
            if attempt >= policy.max_attempts or over_budget:
                raise
            log.warning("%s: %s; retry %d in %.1fs", what, exc, attempt, delay)
            if bucket is None or exc.retry_after is None:
                sleep(delay)
