"""When a Quartz cron schedule fires, in its own time zone (the spec only checks the syntax).

Databricks schedules are Quartz expressions read in `timezone_id`. We match calendar days first (the
day-of-month and day-of-week specials need the whole month), then the seconds, minutes and hours of each
matching day, and turn each local time into UTC with `zoneinfo`. A local time skipped by a daylight-saving
change fires at the same wall-clock offset as before the change (one hour later on the clock), a repeated
local time fires once (its first occurrence).
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from jobclusters.spec.cron import cron_problem, timezone_problem

_MONTHS = {
    m: i
    for i, m in enumerate(
        ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], start=1
    )
}
_DAYS = {d: i for i, d in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"], start=1)}
_MAX_YEARS_AHEAD = 8


def _number(text: str, names: dict[str, int]) -> int:
    return names.get(text.upper(), 0) or int(text)


def _expand(field: str, low: int, high: int, names: dict[str, int] | None = None) -> frozenset[int]:
    """Plain values, ranges (wrapping like Quartz: FRI-MON), steps and `*`."""
    names = names or {}
    values: set[int] = set()
    for item in field.split(","):
        base, _, step_text = item.partition("/")
        step = int(step_text) if step_text else 1
        if base in ("*", "?"):
            start, end = low, high
        elif "-" in base:
            first, _, last = base.partition("-")
            start, end = _number(first, names), _number(last, names)
        else:
            start = _number(base, names)
            end = high if step_text else start
        if end < start:
            span = list(range(start, high + 1)) + list(range(low, end + 1))
        else:
            span = list(range(start, end + 1))
        values.update(span[::step])
    return frozenset(values)


def _quartz_weekday(day: date) -> int:
    """Quartz numbers days 1 (SUN) to 7 (SAT)."""
    return (day.weekday() + 1) % 7 + 1


def _nearest_weekday(year: int, month: int, wanted: int) -> int:
    last = calendar.monthrange(year, month)[1]
    wanted = min(wanted, last)
    weekday = date(year, month, wanted).weekday()
    if weekday == 5:  # Saturday: the Friday before, unless that leaves the month
        return wanted - 1 if wanted > 1 else wanted + 2
    if weekday == 6:  # Sunday: the Monday after, unless that leaves the month
        return wanted + 1 if wanted < last else wanted - 2
    return wanted


@dataclass(frozen=True)
class QuartzSchedule:
    expression: str
    zone: ZoneInfo
    seconds: frozenset[int]
    minutes: frozenset[int]
    hours: frozenset[int]
    months: frozenset[int]
    years: frozenset[int] | None
    day_of_month: str
    day_of_week: str

    @classmethod
    def parse(cls, expression: str, timezone_id: str = "UTC") -> QuartzSchedule:
        """Raises ValueError with the spec's reason when the expression or the zone is not valid."""
        problem = cron_problem(expression) or timezone_problem(timezone_id)
        if problem:
            raise ValueError(problem)
        fields = expression.split()
        years = _expand(fields[6], 1970, 2199) if len(fields) == 7 else None
        return cls(
            expression=expression,
            zone=ZoneInfo(timezone_id),
            seconds=_expand(fields[0], 0, 59),
            minutes=_expand(fields[1], 0, 59),
            hours=_expand(fields[2], 0, 23),
            months=_expand(fields[4], 1, 12, _MONTHS),
            years=years,
            day_of_month=fields[3].upper(),
            day_of_week=fields[5].upper(),
        )

    def matches_day(self, day: date) -> bool:
        if day.month not in self.months or (self.years is not None and day.year not in self.years):
            return False
        if self.day_of_month != "?":
            return self._day_of_month_matches(day)
        return self._day_of_week_matches(day)

    def _day_of_month_matches(self, day: date) -> bool:
        last = calendar.monthrange(day.year, day.month)[1]
        for item in self.day_of_month.split(","):
            if item == "L":
                hit = day.day == last
            elif item.startswith("L-"):
                hit = day.day == max(1, last - int(item[2:]))
            elif item == "LW":
                hit = day.day == _nearest_weekday(day.year, day.month, last)
            elif item.endswith("W"):
                hit = day.day == _nearest_weekday(day.year, day.month, int(item[:-1]))
            else:
                hit = day.day in _expand(item, 1, 31)
            if hit:
                return True
        return False

    def _day_of_week_matches(self, day: date) -> bool:
        weekday = _quartz_weekday(day)
        last = calendar.monthrange(day.year, day.month)[1]
        for item in self.day_of_week.split(","):
            if item == "L":
                hit = weekday == 7
            elif "#" in item:
                name, _, nth = item.partition("#")
                hit = weekday == _number(name, _DAYS) and (day.day - 1) // 7 + 1 == int(nth)
            elif item.endswith("L"):
                hit = weekday == _number(item[:-1], _DAYS) and day.day + 7 > last
            else:
                hit = weekday in _expand(item, 1, 7, _DAYS)
            if hit:
                return True
        return False

    def _day_fires(self, day: date) -> Iterator[datetime]:
        for hour in sorted(self.hours):
            for minute in sorted(self.minutes):
                for second in sorted(self.seconds):
                    local = datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=self.zone)
                    yield local.astimezone(UTC)

    def fires_between(self, start: datetime, end: datetime) -> Iterator[datetime]:
        """Fire times t (UTC) with start < t <= end, in order."""
        start, end = start.astimezone(UTC), end.astimezone(UTC)
        day = start.astimezone(self.zone).date() - timedelta(days=1)
        last_day = end.astimezone(self.zone).date() + timedelta(days=1)
        seen: set[datetime] = set()
        while day <= last_day:
            if self.matches_day(day):
                for fire in self._day_fires(day):
                    if start < fire <= end and fire not in seen:
                        seen.add(fire)
                        yield fire
            day += timedelta(days=1)

    def next_fire(self, after: datetime) -> datetime | None:
        """The first fire time strictly after `after`, or None within the next years (a past year field)."""
        after = after.astimezone(UTC)
        day = after.astimezone(self.zone).date() - timedelta(days=1)
        horizon = day + timedelta(days=366 * _MAX_YEARS_AHEAD)
        while day <= horizon:
            if self.matches_day(day):
                for fire in self._day_fires(day):
                    if fire > after:
                        return fire
            day += timedelta(days=1)
        return None
