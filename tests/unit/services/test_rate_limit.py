"""Client-side throttling: token bucket, Retry-After parsing, bounded retries."""

from __future__ import annotations

from email.utils import formatdate

import pytest

from jobclusters.services.rate_limit import (
    RetryableError,
    RetryPolicy,
    TokenBucket,
    call_with_retries,
    parse_retry_after,
)


class Clock:
    def __init__(self) -> None:
        self.t = 0.0
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(" 2.5 ") == 2.5
    assert parse_retry_after(formatdate(1_000_030, usegmt=True), now=1_000_000) == pytest.approx(30)
    assert parse_retry_after(formatdate(999_000, usegmt=True), now=1_000_000) == 0.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None


def test_bucket_allows_a_burst_then_paces_to_the_rate() -> None:
    clock = Clock()
    bucket = TokenBucket(rate=2.0, capacity=3.0, clock=clock.now, sleep=clock.sleep)
    waits = [bucket.acquire() for _ in range(7)]
    assert waits[:3] == [0.0, 0.0, 0.0]
    assert all(w == pytest.approx(0.5) for w in waits[3:])
    assert clock.t == pytest.approx(2.0), "4 extra requests at 2/s take 2 seconds"


def test_pause_holds_every_caller_until_retry_after_passes() -> None:
    clock = Clock()
    bucket = TokenBucket(rate=100.0, capacity=100.0, clock=clock.now, sleep=clock.sleep)
    bucket.pause(10.0)
    bucket.acquire()
    assert clock.t >= 10.0


def test_bucket_refuses_nonsense_limits() -> None:
    with pytest.raises(ValueError):
        TokenBucket(rate=0, capacity=1)


def test_retries_honour_retry_after_then_succeed() -> None:
    clock = Clock()
    bucket = TokenBucket(rate=100.0, capacity=100.0, clock=clock.now, sleep=clock.sleep)
    answers: list[object] = [RetryableError("429", status=429, retry_after=4.0), RetryableError("503"), "ok"]

    def call() -> str:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return str(answer)

    result = call_with_retries(
        call, bucket=bucket, policy=RetryPolicy(base_delay=0.1), sleep=clock.sleep, clock=clock.now
    )
    assert result == "ok" and clock.sleeps[0] == pytest.approx(4.0)
    assert 0.05 <= clock.sleeps[1] <= 0.2, "the 5xx retry used backoff"


def test_retries_stop_at_max_attempts_and_at_the_budget() -> None:
    clock = Clock()
    calls = []

    def failing() -> None:
        calls.append(1)
        raise RetryableError("500")

    with pytest.raises(RetryableError):
        call_with_retries(
            failing,
            bucket=None,
            policy=RetryPolicy(max_attempts=3, base_delay=0.01),
            sleep=clock.sleep,
            clock=clock.now,
        )
    assert len(calls) == 3
    calls.clear()

    def throttled() -> None:
        calls.append(1)
        raise RetryableError("429", retry_after=50.0)

    with pytest.raises(RetryableError):
        call_with_retries(
            throttled,
            bucket=None,
            policy=RetryPolicy(max_attempts=10, budget_seconds=60),
            sleep=clock.sleep,
            clock=clock.now,
        )
    assert len(calls) == 2, "a second 50 s wait would pass the 60 s budget"


def test_backoff_grows_and_is_capped() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=4.0)
    assert 0.5 <= policy.backoff(1) <= 1.0
    assert 1.0 <= policy.backoff(2) <= 2.0
    assert 2.0 <= policy.backoff(10) <= 4.0
