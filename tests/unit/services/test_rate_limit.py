"""Client-side throttling: the token bucket."""

from __future__ import annotations

import pytest

from jobclusters.services.rate_limit import TokenBucket
from tests.clocks import SleepClock


def test_bucket_allows_a_burst_then_paces_to_the_rate() -> None:
    clock = SleepClock()
    bucket = TokenBucket(rate=2.0, capacity=3.0, clock=clock.now, sleep=clock.sleep)
    waits = [bucket.acquire() for _ in range(7)]
    assert waits[:3] == [0.0, 0.0, 0.0]
    assert all(w == pytest.approx(0.5) for w in waits[3:])
    assert clock.t == pytest.approx(2.0), "4 extra requests at 2/s take 2 seconds"


def test_pause_holds_every_caller_until_retry_after_passes() -> None:
    clock = SleepClock()
    bucket = TokenBucket(rate=100.0, capacity=100.0, clock=clock.now, sleep=clock.sleep)
    bucket.pause(10.0)
    bucket.acquire()
    assert clock.t >= 10.0


def test_bucket_refuses_nonsense_limits() -> None:
    with pytest.raises(ValueError):
        TokenBucket(rate=0, capacity=1)
