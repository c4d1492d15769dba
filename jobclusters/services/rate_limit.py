"""Client-side throttling shared by the remote cluster-job services.

A token bucket keeps steady polling of many runs under a workspace's request limits; a 429/503 answer
with `Retry-After` pauses the whole bucket (every caller sharing it), not just the one request. The retry
helper bounds both attempts and total time, because an activity must not hang on a sick API.
"""

from __future__ import annotations

import email.utils
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")
log = logging.getLogger(__name__)


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


class TokenBucket:
    """`rate` tokens per second up to `capacity`; `acquire` sleeps until a token (and any pause) is due."""

    def __init__(
        self,
        rate: float,
        capacity: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0 or capacity < 1:
            raise ValueError("rate must be > 0 and capacity >= 1")
        self.rate = rate
        self.capacity = capacity
        self._clock = clock
        self._sleep = sleep
        self._tokens = capacity
        self._updated = clock()
        self._paused_until = 0.0
        self._lock = threading.Lock()

    def _refill(self, now: float) -> None:
        self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
        self._updated = now

    def acquire(self) -> float:
        """Take one token; returns how long the caller waited."""
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                self._refill(now)
                if now < self._paused_until:
                    delay = self._paused_until - now
                elif self._tokens >= 1:
                    self._tokens -= 1
                    return waited
                else:
                    delay = (1 - self._tokens) / self.rate
            self._sleep(delay)
            waited += delay

    def pause(self, seconds: float) -> None:
        """The server said Retry-After: nobody sharing this bucket calls before then."""
        with self._lock:
            now = self._clock()
            self._paused_until = max(self._paused_until, now + seconds)
            self._tokens = 0.0
            self._updated = now


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    budget_seconds: float = 60.0

    def backoff(self, attempt: int) -> float:
        """Full-jitter exponential backoff for attempt 1, 2, ..."""
        ceiling = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        return random.uniform(ceiling / 2, ceiling)


class RetryableError(Exception):
    """Raised by a call wrapper for a throttled or transient answer; `retry_after` from the server if any."""

    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


def call_with_retries(
    fn: Callable[[], T],
    *,
    bucket: TokenBucket | None,
    policy: RetryPolicy,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    what: str = "request",
) -> T:
    """Run `fn` under the bucket; retry `RetryableError` honouring Retry-After, within the policy's bounds."""
    started = clock()
    attempt = 0
    while True:
        attempt += 1
        if bucket is not None:
            bucket.acquire()
        try:
            return fn()
        except RetryableError as exc:
            delay = exc.retry_after if exc.retry_after is not None else policy.backoff(attempt)
            if exc.retry_after is not None and bucket is not None:
                bucket.pause(exc.retry_after)
            spent = clock() - started
            if attempt >= policy.max_attempts or spent + delay > policy.budget_seconds:
                raise
            log.warning("%s: %s; retry %d in %.1fs", what, exc, attempt, delay)
            if bucket is None or exc.retry_after is None:
                sleep(delay)
