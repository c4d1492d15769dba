from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from jobclusters.execution.polling import CLUSTER_POLL, PollSchedule, next_fire_at, past
from jobclusters.execution.retry import may_retry, retry_delay_millis
from jobclusters.spec.model import RetryPolicy, TaskState


def test_a_failed_attempt_is_retried_until_max_retries_is_used_up() -> None:
    policy = RetryPolicy(max_retries=2)
    assert [may_retry(policy, done, TaskState.FAILED) for done in range(4)] == [True, True, False, False]


def test_minus_one_retries_forever() -> None:
    assert may_retry(RetryPolicy(max_retries=-1), 10_000, TaskState.FAILED)


def test_a_timeout_is_retried_only_with_retry_on_timeout() -> None:
    assert not may_retry(RetryPolicy(max_retries=3), 0, TaskState.TIMEDOUT)
    assert may_retry(RetryPolicy(max_retries=3, retry_on_timeout=True), 0, TaskState.TIMEDOUT)


@pytest.mark.parametrize("state", [TaskState.SUCCESS, TaskState.CANCELED, TaskState.UPSTREAM_FAILED])
def test_only_failures_and_timeouts_are_retried(state: TaskState) -> None:
    assert not may_retry(RetryPolicy(max_retries=5, retry_on_timeout=True), 0, state)


def test_a_fixed_interval_stays_the_same() -> None:
    policy = RetryPolicy(max_retries=5, min_retry_interval_millis=30_000)
    assert [retry_delay_millis(policy, n) for n in (1, 2, 5)] == [30_000, 30_000, 30_000]


def test_exponential_backoff_grows_by_the_multiplier_up_to_the_cap() -> None:
    policy = RetryPolicy(
        max_retries=10,
        min_retry_interval_millis=1_000,
        backoff="exponential",
        backoff_multiplier=3.0,
        max_retry_interval_millis=20_000,
    )
    assert [retry_delay_millis(policy, n) for n in range(1, 6)] == [1_000, 3_000, 9_000, 20_000, 20_000]


def test_retry_numbers_start_at_one() -> None:
    with pytest.raises(ValueError):
        retry_delay_millis(RetryPolicy(), 0)


def test_poll_intervals_grow_to_the_cap() -> None:
    schedule = PollSchedule(first_seconds=2, factor=2, max_seconds=10)
    seen, interval = [], None
    for _ in range(5):
        interval = schedule.next_interval(interval)
        seen.append(interval)
    assert seen == [2, 4, 8, 10, 10]
    assert CLUSTER_POLL.max_seconds == 300


def test_the_next_poll_never_fires_after_the_deadline() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    deadline = now + timedelta(seconds=3)
    assert next_fire_at(now, 60, deadline) == deadline
    assert next_fire_at(now, 1, deadline) == now + timedelta(seconds=1)
    assert next_fire_at(now, 60, None) == now + timedelta(seconds=60)
    assert next_fire_at(now, 60, now - timedelta(seconds=1)) == now
    assert past(deadline, deadline) and not past(deadline, now) and not past(None, now)
