"""Retries of transient answers: Retry-After, backoff, bounded attempts and time, with a fake clock."""

from __future__ import annotations

from email.utils import formatdate

import pytest

from jobclusters.services.rate_limit import TokenBucket
from jobclusters.services.retries import (
    BackoffPolicy,
    RetryableError,
    call_with_retries,
    is_transient_status,
    parse_retry_after,
)
from tests.clocks import SleepClock


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(" 2.5 ") == 2.5
    assert parse_retry_after(formatdate(1_000_030, usegmt=True), now=1_000_000) == pytest.approx(30)
    assert parse_retry_after(formatdate(999_000, usegmt=True), now=1_000_000) == 0.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None


def test_retries_honour_retry_after_then_succeed() -> None:
    clock = SleepClock()
    bucket = TokenBucket(rate=100.0, capacity=100.0, clock=clock.now, sleep=clock.sleep)
    answers: list[object] = [RetryableError("429", status=429, retry_after=4.0), RetryableError("503"), "ok"]

    def call() -> str:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return str(answer)

    result = call_with_retries(
        call, bucket=bucket, policy=BackoffPolicy(base_delay=0.1), sleep=clock.sleep, clock=clock.now
    )
    assert result == "ok" and clock.sleeps[0] == pytest.approx(4.0)
    assert 0.05 <= clock.sleeps[1] <= 0.2, "the 5xx retry used backoff"


def test_retries_stop_at_max_attempts_and_at_the_budget() -> None:
    clock = SleepClock()
    calls = []

    def failing() -> None:
        calls.append(1)
        raise RetryableError("500")

    with pytest.raises(RetryableError):
        call_with_retries(
            failing,
            bucket=None,
            policy=BackoffPolicy(max_attempts=3, base_delay=0.01),
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
            policy=BackoffPolicy(max_attempts=10, budget_seconds=60),
            sleep=clock.sleep,
            clock=clock.now,
        )
    assert len(calls) == 2, "a second 50 s wait would pass the 60 s budget"


def test_backoff_grows_and_is_capped() -> None:
    policy = BackoffPolicy(base_delay=1.0, max_delay=4.0)
    assert 0.5 <= policy.backoff(1) <= 1.0
    assert 1.0 <= policy.backoff(2) <= 2.0
    assert 2.0 <= policy.backoff(10) <= 4.0


def test_a_capped_retry_after_waits_the_cap_and_an_unbounded_budget_only_counts_attempts() -> None:
    clock = SleepClock()
    calls = []

    def throttled() -> None:
        calls.append(1)
        raise RetryableError("429", retry_after=600.0)

    policy = BackoffPolicy(max_attempts=4, budget_seconds=None, max_retry_after=30.0)
    with pytest.raises(RetryableError):
        call_with_retries(throttled, policy=policy, sleep=clock.sleep, clock=clock.now)
    assert len(calls) == 4 and clock.sleeps == [30.0, 30.0, 30.0]


def test_a_retry_after_pauses_the_shared_bucket_instead_of_sleeping_alone() -> None:
    clock = SleepClock()
    bucket = TokenBucket(rate=100.0, capacity=100.0, clock=clock.now, sleep=clock.sleep)
    answers: list[object] = [RetryableError("503", status=503, retry_after=3.0), "ok"]

    def call() -> str:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return str(answer)

    assert (
        call_with_retries(call, policy=BackoffPolicy(), bucket=bucket, sleep=clock.sleep, clock=clock.now)
        == "ok"
    )
    assert clock.sleeps == [pytest.approx(3.0)], "one wait, in the bucket"
    other_caller_waited = bucket.acquire()
    assert other_caller_waited == 0.0 and clock.t == pytest.approx(3.0)


def test_transient_statuses_are_throttling_timeouts_and_the_temporary_5xx() -> None:
    assert all(is_transient_status(s) for s in (408, 429, 500, 502, 503, 504))
    assert not any(is_transient_status(s) for s in (400, 401, 403, 404, 409, 501))
