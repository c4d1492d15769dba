from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from devhost.triggers.ncrontab import (
    CronSchedule,
    IntervalSchedule,
    ScheduleError,
    parse_schedule,
    shortest_interval,
)

T0 = datetime(2026, 3, 10, 12, 34, 56, 500000, tzinfo=UTC)  # a Tuesday


def occurrences(expression: str, start: datetime, count: int) -> list[datetime]:
    schedule = parse_schedule(expression)
    out, moment = [], start
    for _ in range(count):
        moment = schedule.next_after(moment)
        out.append(moment)
    return out


def test_every_second_fires_on_each_following_whole_second() -> None:
    whole = T0.replace(microsecond=0)
    assert occurrences("* * * * * *", T0, 3) == [whole + timedelta(seconds=s) for s in (1, 2, 3)]


def test_every_five_minutes_step_starts_at_zero() -> None:
    assert occurrences("0 */5 * * * *", T0, 2) == [
        datetime(2026, 3, 10, 12, 35, tzinfo=UTC),
        datetime(2026, 3, 10, 12, 40, tzinfo=UTC),
    ]


def test_ranges_and_lists_combine() -> None:
    got = occurrences("0 0 9-10,17 * * *", T0, 4)
    assert [d.hour for d in got] == [17, 9, 10, 17]
    assert got[1].day == 11


def test_month_and_day_names_are_accepted() -> None:
    got = parse_schedule("0 30 9 * Jan-Mar MON-fri")
    assert isinstance(got, CronSchedule)
    assert got.months == {1, 2, 3}
    assert got.weekdays == {1, 2, 3, 4, 5}


def test_weekday_seven_means_sunday() -> None:
    got = parse_schedule("0 0 0 * * 7")
    assert isinstance(got, CronSchedule) and got.weekdays == {0}
    assert parse_schedule("0 0 0 * * 5-7").weekdays == {0, 5, 6}  # type: ignore[union-attr]


def test_day_of_month_and_weekday_are_combined_with_and_like_ncrontab() -> None:
    got = occurrences("0 0 0 13 * FRI", T0, 2)
    assert all(d.day == 13 and d.weekday() == 4 for d in got)
    assert got == [datetime(2026, 3, 13, tzinfo=UTC), datetime(2026, 11, 13, tzinfo=UTC)]


def test_step_over_a_range() -> None:
    got = parse_schedule("10-30/10 * * * * *")
    assert isinstance(got, CronSchedule) and got.seconds == {10, 20, 30}


def test_next_occurrence_crosses_month_and_year_boundaries() -> None:
    assert occurrences("0 0 0 1 1 *", T0, 1) == [datetime(2027, 1, 1, tzinfo=UTC)]
    assert occurrences("0 0 0 29 2 *", T0, 1) == [datetime(2028, 2, 29, tzinfo=UTC)]


def test_occurrences_follow_the_wall_clock_of_the_time_zone() -> None:
    zone = ZoneInfo("Europe/Amsterdam")
    start = datetime(2026, 3, 10, 12, 0, tzinfo=zone)
    got = occurrences("0 0 9 * * *", start, 1)[0]
    assert (got.hour, got.tzinfo) == (9, zone)


def test_timespan_form_is_an_interval() -> None:
    got = parse_schedule("00:00:05")
    assert isinstance(got, IntervalSchedule)
    assert got.next_after(T0) == T0 + timedelta(seconds=5)
    assert parse_schedule("1.02:00:00").interval == timedelta(days=1, hours=2)  # type: ignore[union-attr]


def test_shortest_interval_tells_sub_minute_schedules_apart() -> None:
    assert shortest_interval(parse_schedule("*/10 * * * * *"), T0) == timedelta(seconds=10)
    assert shortest_interval(parse_schedule("0 0 * * * *"), T0) == timedelta(hours=1)


@pytest.mark.parametrize(
    ("expression", "fragment"),
    [
        ("* * * * *", "expected six fields"),
        ("60 * * * * *", "second: 60 is outside 0-59"),
        ("* * 24 * * *", "hour: 24 is outside 0-23"),
        ("* * * 0 * *", "day: 0 is outside 1-31"),
        ("* * * * FOO *", "month: 'FOO' is not a number 1-12 or a name"),
        ("*/0 * * * * *", "second: step '0' must be a positive number"),
        ("* 30-10 * * * *", "minute: range '30-10' runs backwards"),
        ("* * * * * MON,", "day-of-week: empty item"),
        ("0 0 0 31 2 *", "never fires"),
    ],
)
def test_invalid_expressions_name_the_field(expression: str, fragment: str) -> None:
    with pytest.raises(ScheduleError, match=fragment):
        parse_schedule(expression).next_after(T0)
