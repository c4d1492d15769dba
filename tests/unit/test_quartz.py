"""Quartz cron: the syntax check validation uses and the fire times the schedule trigger uses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from jobclusters.quartz import QuartzSchedule, cron_problem, timezone_problem


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def test_daily_schedule_fires_at_local_time_of_its_zone() -> None:
    schedule = QuartzSchedule.parse("0 30 2 * * ?", "Europe/Paris")
    # 2024-01-10 02:30 Paris (UTC+1) is 01:30 UTC
    assert schedule.next_fire(utc(2024, 1, 10, 0, 0)) == utc(2024, 1, 10, 1, 30)
    # in summer Paris is UTC+2
    assert schedule.next_fire(utc(2024, 7, 10, 0, 0)) == utc(2024, 7, 10, 0, 30)


def test_fires_between_excludes_start_and_includes_end() -> None:
    schedule = QuartzSchedule.parse("0/20 * * * * ?")
    fires = list(schedule.fires_between(utc(2024, 1, 1, 0, 0, 0), utc(2024, 1, 1, 0, 1, 0)))
    assert fires == [utc(2024, 1, 1, 0, 0, 20), utc(2024, 1, 1, 0, 0, 40), utc(2024, 1, 1, 0, 1, 0)]


def test_weekday_ranges_and_names() -> None:
    schedule = QuartzSchedule.parse("0 0 9 ? * MON-FRI")
    saturday = utc(2024, 6, 1, 12, 0)  # a Saturday
    assert schedule.next_fire(saturday) == utc(2024, 6, 3, 9, 0)  # Monday


def test_last_day_of_month_and_nearest_weekday() -> None:
    last = QuartzSchedule.parse("0 0 0 L * ?")
    assert last.next_fire(utc(2024, 2, 10)) == utc(2024, 2, 29)
    before_last = QuartzSchedule.parse("0 0 0 L-2 * ?")
    assert before_last.next_fire(utc(2024, 2, 10)) == utc(2024, 2, 27)
    # 2024-06-15 is a Saturday: 15W fires on Friday the 14th
    nearest = QuartzSchedule.parse("0 0 0 15W * ?")
    assert nearest.next_fire(utc(2024, 6, 1)) == utc(2024, 6, 14)
    # 2024-06-01 is a Saturday: 1W cannot go back into May, fires Monday the 3rd
    first = QuartzSchedule.parse("0 0 0 1W * ?")
    assert first.next_fire(utc(2024, 5, 31, 1)) == utc(2024, 6, 3)


def test_nth_and_last_weekday_of_month() -> None:
    second_tuesday = QuartzSchedule.parse("0 0 12 ? * 3#2")
    assert second_tuesday.next_fire(utc(2024, 6, 1)) == utc(2024, 6, 11, 12)
    last_friday = QuartzSchedule.parse("0 0 12 ? * 6L")
    assert last_friday.next_fire(utc(2024, 6, 1)) == utc(2024, 6, 28, 12)


def test_year_field_ends_the_schedule() -> None:
    schedule = QuartzSchedule.parse("0 0 0 1 1 ? 2025")
    assert schedule.next_fire(utc(2024, 6, 1)) == utc(2025, 1, 1)
    assert schedule.next_fire(utc(2025, 6, 1)) is None


def test_local_time_skipped_by_daylight_saving_fires_once_an_hour_later_on_the_clock() -> None:
    schedule = QuartzSchedule.parse("0 30 2 * * ?", "America/New_York")
    # 2024-03-10: clocks jump from 02:00 to 03:00 EST->EDT; 02:30 EST is 07:30 UTC
    fires = list(schedule.fires_between(utc(2024, 3, 10, 0), utc(2024, 3, 11, 0)))
    assert fires == [utc(2024, 3, 10, 7, 30)]


def test_repeated_local_time_fires_once() -> None:
    schedule = QuartzSchedule.parse("0 30 1 * * ?", "America/New_York")
    fires = list(schedule.fires_between(utc(2024, 11, 3, 0), utc(2024, 11, 4, 0)))
    assert len(fires) == 1


def test_every_fire_in_a_window_is_strictly_increasing_and_matches_next_fire() -> None:
    schedule = QuartzSchedule.parse("15 */7 * ? * *", "Asia/Kolkata")
    start = utc(2024, 5, 5, 10, 0)
    fires = list(schedule.fires_between(start, start + timedelta(hours=3)))
    assert fires and fires == sorted(set(fires))
    previous = start
    for fire in fires:
        assert schedule.next_fire(previous) == fire
        previous = fire


@pytest.mark.parametrize(
    ("expression", "zone", "reason"),
    [("0 0 * * *", "UTC", "expected 6 or 7 fields"), ("0 0 0 * * ?", "Mars/Olympus", "unknown time zone")],
)
def test_invalid_schedule_says_why(expression: str, zone: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        QuartzSchedule.parse(expression, zone)


@pytest.mark.parametrize(
    ("expression", "fragment"),
    [
        ("0 0 2 * * *", "exactly one of day-of-month and day-of-week"),
        ("0 0 25 * * ?", "hours"),
        ("0 0 0 ? JAN-FOO MON", "month"),
        ("0 0/0 * * * ?", "step"),
        ("0 0 0 ? * 6#9", "day-of-week"),
        ("0 0 0 * * ? 1800", "year"),
        ("? 0 0 * * ?", "only allowed"),
    ],
)
def test_cron_problems_say_what_is_wrong(expression: str, fragment: str) -> None:
    problem = cron_problem(expression)
    assert problem is not None and fragment in problem


@pytest.mark.parametrize(
    "expression",
    [
        "0 0/5 * * * ?",
        "0 0 0 LW * ?",
        "0 0 0 ? * 6L",
        "0 0 0 ? * MON#2",
        "0 0 0 15W * ?",
        "0 0 8-18/2 ? * 2-6 2030",
        "0 0 0 L-3 * ?",
    ],
)
def test_valid_quartz_forms(expression: str) -> None:
    assert cron_problem(expression) is None


def test_time_zone_check_accepts_iana_ids_only() -> None:
    assert timezone_problem("Asia/Kolkata") is None
    assert timezone_problem("") is not None and timezone_problem("Nowhere/Town") is not None
