"""Quartz cron expressions (what Databricks schedules use): one parser for the spec's syntax check and for
the schedule trigger's question, when does it fire.

Fields: seconds minutes hours day-of-month month day-of-week [year]. Quartz needs `?` in exactly one of
day-of-month and day-of-week. Special forms: `L`, `W`, `LW`, `L-n` (day of month), `nL`, `n#k` (day of
week), names JAN-DEC and SUN-SAT; ranges wrap like Quartz's (FRI-MON).

Expressions are read in `timezone_id`. We match calendar days first (the day-of-month and day-of-week
specials need the whole month), then the seconds, minutes and hours of each matching day, and turn each
local time into UTC with `zoneinfo`. A local time skipped by a daylight-saving change fires at the same
wall-clock offset as before the change (one hour later on the clock), a repeated local time fires once
(its first occurrence).
"""

from __future__ import annotations

import calendar
import re
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal

_MONTHS = {
    m: i
    for i, m in enumerate(
        ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], start=1
    )
}
_DAYS = {d: i for i, d in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"], start=1)}
_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("seconds", 0, 59, {}),
    ("minutes", 0, 59, {}),
    ("hours", 0, 23, {}),
    ("day-of-month", 1, 31, {}),
    ("month", 1, 12, _MONTHS),
    ("day-of-week", 1, 7, _DAYS),
    ("year", 1970, 2199, {}),
)
_DAY_OF_MONTH, _DAY_OF_WEEK = 3, 5
_MAX_YEARS_AHEAD = 8

SpecialKind = Literal["last", "last_minus", "last_weekday", "nearest_weekday", "last_of_week", "nth_of_week"]


class _Invalid(ValueError):
    """What is wrong with an expression, in the words `cron_problem` returns."""


@dataclass(frozen=True)
class _Special:
    kind: SpecialKind
    number: int = 0
    nth: int = 0


@dataclass(frozen=True)
class _Field:
    """One field: the plain values it allows, plus day specials that need the calendar to decide."""

    values: frozenset[int]
    specials: tuple[_Special, ...] = ()
    unspecified: bool = False


def _value(text: str, low: int, high: int, names: dict[str, int]) -> int | None:
    if text.upper() in names:
        return names[text.upper()]
    if not text.isdigit():
        return None
    number = int(text)
    return number if low <= number <= high else None


def _span(start: int, end: int, step: int, low: int, high: int) -> list[int]:
    """Values from start to end by step; an end before the start wraps around the field's range."""
    if end < start:
        values = list(range(start, high + 1)) + list(range(low, end + 1))
    else:
        values = list(range(start, end + 1))
    return values[::step]


def _day_of_month_special(item: str) -> _Special | None:
    if not re.fullmatch(r"L(-\d{1,2})?|LW|\d{1,2}W", item):
        return None
    digits = re.findall(r"\d+", item)
    if digits and not 1 <= int(digits[0]) <= 31:
        raise _Invalid(f"day {digits[0]} is outside 1-31")
    if item == "L":
        return _Special("last")
    if item == "LW":
        return _Special("last_weekday")
    if item.startswith("L-"):
        return _Special("last_minus", int(digits[0]))
    return _Special("nearest_weekday", int(digits[0]))


def _day_of_week_special(item: str) -> _Special | None:
    if item == "L":
        return _Special("last")
    special = re.fullmatch(r"(\w{1,3})(L|#([1-5]))", item)
    if not special:
        return None
    day = _value(special.group(1), 1, 7, _DAYS)
    if not day:
        raise _Invalid(f"{item!r} is not a valid day-of-week")
    if special.group(2) == "L":
        return _Special("last_of_week", day)
    return _Special("nth_of_week", day, int(special.group(3)))


def _plain_values(item: str, index: int) -> list[int]:
    name, low, high, names = _FIELDS[index]
    base, _, step_text = item.partition("/")
    if step_text and (not step_text.isdigit() or int(step_text) == 0):
        raise _Invalid(f"step {step_text!r} in {name} must be a positive number")
    step = int(step_text) if step_text else 1
    if base == "*" and step_text:
        return _span(low, high, step, low, high)
    start, dash, end = base.partition("-")
    first = _value(start, low, high, names)
    if first is None:
        raise _Invalid(f"{start!r} is not a valid {name} ({low}-{high})")
    if not dash:
        return _span(first, high if step_text else first, step, low, high)
    last = _value(end, low, high, names)
    if last is None:
        raise _Invalid(f"{end!r} is not a valid {name} ({low}-{high})")
    return _span(first, last, step, low, high)


def _parse_field(text: str, index: int) -> _Field:
    name, low, high, _ = _FIELDS[index]
    values: set[int] = set()
    specials: list[_Special] = []
    for item in text.split(","):
        if not item:
            raise _Invalid(f"empty item in {name}")
        if item == "*":
            values.update(range(low, high + 1))
            continue
        if item == "?":
            if index not in (_DAY_OF_MONTH, _DAY_OF_WEEK):
                raise _Invalid(f"'?' is only allowed in day-of-month or day-of-week, not {name}")
            values.update(range(low, high + 1))
            continue
        special = None
        if index == _DAY_OF_MONTH:
            special = _day_of_month_special(item)
        elif index == _DAY_OF_WEEK:
            special = _day_of_week_special(item)
        if special is not None:
            specials.append(special)
        else:
            values.update(_plain_values(item, index))
    return _Field(frozenset(values), tuple(specials), unspecified=text == "?")


def _parse(expression: str) -> list[_Field]:
    texts = expression.split()
    if len(texts) not in (6, 7):
        raise _Invalid(
            f"expected 6 or 7 fields (seconds minutes hours day-of-month month day-of-week [year]), "
            f"got {len(texts)}"
        )
    fields = [_parse_field(text, index) for index, text in enumerate(texts)]
    if fields[_DAY_OF_MONTH].unspecified == fields[_DAY_OF_WEEK].unspecified:
        raise _Invalid("Quartz needs '?' in exactly one of day-of-month and day-of-week")
    return fields


def cron_problem(expression: str) -> str | None:
    """None when `expression` is a valid Quartz cron expression, else what is wrong with it."""
    try:
        _parse(expression)
    except _Invalid as exc:
        return str(exc)
    return None


def timezone_problem(name: str) -> str | None:
    """None when `name` is an IANA time zone Java/Quartz would also accept."""
    if not name or name.startswith(("/", ".")) or ".." in name:
        return f"{name!r} is not a time zone id"
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return f"unknown time zone {name!r}: expected an IANA id such as UTC or Europe/Paris"
    return None


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


def _day_of_month_special_hit(special: _Special, day: date, last: int) -> bool:
    if special.kind == "last":
        return day.day == last
    if special.kind == "last_minus":
        return day.day == max(1, last - special.number)
    if special.kind == "last_weekday":
        return day.day == _nearest_weekday(day.year, day.month, last)
    return day.day == _nearest_weekday(day.year, day.month, special.number)


def _day_of_week_special_hit(special: _Special, day: date, last: int) -> bool:
    weekday = _quartz_weekday(day)
    if special.kind == "last":
        return weekday == 7
    if special.kind == "nth_of_week":
        return weekday == special.number and (day.day - 1) // 7 + 1 == special.nth
    return weekday == special.number and day.day + 7 > last


@dataclass(frozen=True)
class QuartzSchedule:
    expression: str
    zone: zoneinfo.ZoneInfo
    seconds: frozenset[int]
    minutes: frozenset[int]
    hours: frozenset[int]
    months: frozenset[int]
    years: frozenset[int] | None
    day_of_month: _Field
    day_of_week: _Field

    @classmethod
    def parse(cls, expression: str, timezone_id: str = "UTC") -> QuartzSchedule:
        """Raises ValueError saying what is wrong when the expression or the zone is not valid."""
        problem = timezone_problem(timezone_id)
        fields = _parse(expression)
        if problem:
            raise ValueError(problem)
        return cls(
            expression=expression,
            zone=zoneinfo.ZoneInfo(timezone_id),
            seconds=fields[0].values,
            minutes=fields[1].values,
            hours=fields[2].values,
            months=fields[4].values,
            years=fields[6].values if len(fields) == 7 else None,
            day_of_month=fields[_DAY_OF_MONTH],
            day_of_week=fields[_DAY_OF_WEEK],
        )

    def matches_day(self, day: date) -> bool:
        if day.month not in self.months or (self.years is not None and day.year not in self.years):
            return False
        last = calendar.monthrange(day.year, day.month)[1]
        if not self.day_of_month.unspecified:
            field, hit = self.day_of_month, _day_of_month_special_hit
            plain = day.day
        else:
            field, hit = self.day_of_week, _day_of_week_special_hit
            plain = _quartz_weekday(day)
        return plain in field.values or any(hit(special, day, last) for special in field.specials)

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
