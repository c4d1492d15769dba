from __future__ import annotations

from datetime import UTC, datetime, timedelta

from jobclusters.spec.model import Schedule
from jobclusters.tracking.definitions import JobSummary
from triggers.schedule import LOOKBACK, MAX_FIRES_PER_TICK, due_fires


def summary(expression: str, *, registered: datetime, paused: bool = False, zone: str = "UTC") -> JobSummary:
    return JobSummary(
        job_id="j",
        name="j",
        format="native",
        registered_at=registered.isoformat(),
        updated_at=registered.isoformat(),
        schedule=Schedule(
            quartz_cron_expression=expression,
            timezone_id=zone,
            pause_status="PAUSED" if paused else "UNPAUSED",
        ),
    )


NOW = datetime(2024, 6, 3, 9, 0, 30, tzinfo=UTC)


def test_fires_since_the_look_back_are_due_and_overlapping_ticks_see_the_same_fire() -> None:
    job = summary("0 * * * * ?", registered=NOW - timedelta(days=1))
    assert due_fires(job, NOW) == [datetime(2024, 6, 3, 9, 0, tzinfo=UTC)]
    assert datetime(2024, 6, 3, 9, 0, tzinfo=UTC) in due_fires(job, NOW + timedelta(seconds=59))


def test_fires_before_registration_are_never_replayed() -> None:
    job = summary("* * * * * ?", registered=NOW - timedelta(seconds=3))
    assert len(due_fires(job, NOW)) == 3


def test_a_tick_starts_at_most_the_latest_fires() -> None:
    job = summary("* * * * * ?", registered=NOW - timedelta(days=1))
    fires = due_fires(job, NOW)
    assert len(fires) == MAX_FIRES_PER_TICK and fires[-1] == NOW
    assert all(NOW - LOOKBACK < f <= NOW for f in fires)


def test_paused_or_absent_schedules_have_nothing_due() -> None:
    assert due_fires(summary("* * * * * ?", registered=NOW - timedelta(days=1), paused=True), NOW) == []
    plain = JobSummary(
        job_id="j", name="j", format="native", registered_at=NOW.isoformat(), updated_at=NOW.isoformat()
    )
    assert due_fires(plain, NOW) == []


def test_the_time_zone_decides_the_fire_time() -> None:
    job = summary("0 0 11 * * ?", registered=NOW - timedelta(days=1), zone="Europe/Paris")
    assert due_fires(job, datetime(2024, 6, 3, 9, 0, 30, tzinfo=UTC)) == [
        datetime(2024, 6, 3, 9, 0, tzinfo=UTC)
    ]
