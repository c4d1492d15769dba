"""Six-field NCRONTAB schedules (`sec min hour day month day-of-week`), as the timer trigger reads them.

Written here rather than taken from a cron library because the Functions dialect differs from Unix cron:
a seconds field comes first, and day-of-month and day-of-week are combined with AND (NCrontab's rule),
not Vixie cron's OR. The `hh:mm:ss` TimeSpan form (an interval) is accepted too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

MONTH_NAMES = {n: i for i, n in enumerate(
    ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], start=1)}
DAY_NAMES = {n: i for i, n in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"])}

# (field name, lowest, highest, names)
FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("second", 0, 59, {}),
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day", 1, 31, {}),
    ("month", 1, 12, MONTH_NAMES),
    ("day-of-week", 0, 6, DAY_NAMES),
)

TIMESPAN = re.compile(r"^(?:(\d+)\.)?(\d{1,2}):(\d{2})(?::(\d{2}))?$")
MAX_YEARS_AHEAD = 8  # covers Feb 29 and weekday+date combinations; beyond that the schedule never fires


class ScheduleError(ValueError):
    """A schedule expression that cannot be parsed; the message names the field and what was expected."""


def _parse_value(text: str, field: str, low: int, high: int, names: dict[str, int]) -> int:
    upper = text.upper()
    if upper in names:
        return names[upper]
    if not text.isdigit():
        expected = f"a number {low}-{high}" + (f" or a name ({', '.join(names)})" if names else "")
        raise ScheduleError(f"{field}: {text!r} is not {expected}")
    value = int(text)
    if field == "day-of-week" and value == 7:
        return 0
    if not low <= value <= high:
        raise ScheduleError(f"{field}: {value} is outside {low}-{high}")
    return value


def _parse_field(text: str, field: str, low: int, high: int, names: dict[str, int]) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        if not part:
            raise ScheduleError(f"{field}: empty item in list {text!r}")
        base, _, step_text = part.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) == 0:
                raise ScheduleError(f"{field}: step {step_text!r} must be a positive number")
            step = int(step_text)
        if base == "*":
            start, end = low, high
        elif "-" in base:
            first, _, last = base.partition("-")
            start = _parse_value(first, field, low, high, names)
            end = _parse_value(last, field, low, high, names)
            if field == "day-of-week" and last == "7":
                values.add(0)
                end = 6
            if end < start:
                raise ScheduleError(f"{field}: range {base!r} runs backwards")
        else:
            start = _parse_value(base, field, low, high, names)
            end = high if step_text else start
        values.update(range(start, end + 1, step))
    return frozenset(values)


@dataclass(frozen=True)
class CronSchedule:
    """A parsed six-field expression; `next_after` gives the next occurrence strictly after a time."""

    expression: str
    seconds: frozenset[int]
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday

    def _day_matches(self, day: datetime) -> bool:
        return (
            day.month in self.months
            and day.day in self.days
            and (day.weekday() + 1) % 7 in self.weekdays
        )

    def _first_time_of_day(self, day: datetime, not_before: datetime | None) -> datetime | None:
        floor = (not_before.hour, not_before.minute, not_before.second) if not_before else (0, 0, 0)
        for hour in sorted(h for h in self.hours if h >= floor[0]):
            same_hour = hour == floor[0]
            for minute in sorted(m for m in self.minutes if not same_hour or m >= floor[1]):
                same_minute = same_hour and minute == floor[1]
                for second in sorted(s for s in self.seconds if not same_minute or s >= floor[2]):
                    return day.replace(hour=hour, minute=minute, second=second)
        return None

    def next_after(self, moment: datetime) -> datetime:
        """The first matching wall-clock time after `moment`, in `moment`'s time zone."""
        zone: tzinfo | None = moment.tzinfo
        start = moment.replace(microsecond=0) + timedelta(seconds=1)
        naive = start.replace(tzinfo=None)
        limit = naive.replace(year=naive.year + MAX_YEARS_AHEAD, month=1, day=1, hour=0, minute=0, second=0)
        day = naive.replace(hour=0, minute=0, second=0)
        first_day = True
        while day < limit:
            if self._day_matches(day):
                found = self._first_time_of_day(day, naive if first_day else None)
                if found is not None:
                    return _localize(found, zone)
            day += timedelta(days=1)
            first_day = False
        raise ScheduleError(f"schedule {self.expression!r} never fires")


@dataclass(frozen=True)
class IntervalSchedule:
    """The TimeSpan form `[d.]hh:mm[:ss]`: fire every interval, counted from the previous occurrence."""

    expression: str
    interval: timedelta

    def next_after(self, moment: datetime) -> datetime:
        return moment + self.interval


Schedule = CronSchedule | IntervalSchedule


def _localize(naive: datetime, zone: tzinfo | None) -> datetime:
    if zone is None:
        return naive
    return naive.replace(tzinfo=zone)


def parse_schedule(expression: str) -> Schedule:
    """Parse a six-field NCRONTAB expression or a TimeSpan; errors name the field and the expectation."""
    text = expression.strip()
    span = TIMESPAN.match(text)
    if span:
        days, hours, minutes, seconds = (int(g) if g else 0 for g in span.groups())
        interval = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
        if interval <= timedelta(0):
            raise ScheduleError(f"schedule {expression!r}: the interval must be positive")
        return IntervalSchedule(expression=expression, interval=interval)
    parts = text.split()
    if len(parts) != 6:
        raise ScheduleError(
            f"schedule {expression!r}: expected six fields (second minute hour day month day-of-week), "
            f"got {len(parts)}"
        )
    parsed = [
        _parse_field(p, name, low, high, names)
        for p, (name, low, high, names) in zip(parts, FIELDS, strict=True)
    ]
    return CronSchedule(expression, *parsed)


def shortest_interval(schedule: Schedule, around: datetime) -> timedelta:
    """The gap between the next two occurrences; the real host enables `useMonitor` when it is >= 1 minute."""
    if isinstance(schedule, IntervalSchedule):
        return schedule.interval
    first = schedule.next_after(around)
    return schedule.next_after(first) - first
