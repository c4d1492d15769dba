"""Quartz cron expressions (what Databricks schedules use): syntax check with a clear reason.

Fields: seconds minutes hours day-of-month month day-of-week [year]. Quartz needs `?` in exactly one of
day-of-month and day-of-week. Special forms: `L`, `W`, `LW`, `L-n` (day of month), `nL`, `n#k` (day of
week), names JAN-DEC and SUN-SAT.
"""

from __future__ import annotations

import re
import zoneinfo

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


def _value(text: str, low: int, high: int, names: dict[str, int]) -> int | None:
    if text.upper() in names:
        return names[text.upper()]
    if not text.isdigit():
        return None
    number = int(text)
    return number if low <= number <= high else None


def _check_item(item: str, index: int) -> str | None:
    name, low, high, names = _FIELDS[index]
    if item == "*":
        return None
    if item == "?":
        return None if index in (3, 5) else f"'?' is only allowed in day-of-month or day-of-week, not {name}"
    if index == 3 and re.fullmatch(r"L(-\d{1,2})?|LW|\d{1,2}W", item):
        digits = re.findall(r"\d+", item)
        if digits and not 1 <= int(digits[0]) <= 31:
            return f"day {digits[0]} is outside 1-31"
        return None
    if index == 5:
        if item == "L":
            return None
        special = re.fullmatch(r"(\w{1,3})(L|#([1-5]))", item)
        if special:
            return None if _value(special.group(1), 1, 7, _DAYS) else f"{item!r} is not a valid day-of-week"
    base, _, step = item.partition("/")
    if step and (not step.isdigit() or int(step) == 0):
        return f"step {step!r} in {name} must be a positive number"
    if base == "*" and step:
        return None
    start, dash, end = base.partition("-")
    first = _value(start, low, high, names)
    if first is None:
        return f"{start!r} is not a valid {name} ({low}-{high})"
    if dash:
        last = _value(end, low, high, names)
        if last is None:
            return f"{end!r} is not a valid {name} ({low}-{high})"
    return None


def cron_problem(expression: str) -> str | None:
    """None when `expression` is a valid Quartz cron expression, else what is wrong with it."""
    fields = expression.split()
    if len(fields) not in (6, 7):
        return (
            f"expected 6 or 7 fields (seconds minutes hours day-of-month month day-of-week [year]), "
            f"got {len(fields)}"
        )
    for index, field in enumerate(fields):
        for item in field.split(","):
            if not item:
                return f"empty item in {_FIELDS[index][0]}"
            reason = _check_item(item, index)
            if reason is not None:
                return reason
    day_of_month, day_of_week = fields[3], fields[5]
    if (day_of_month == "?") == (day_of_week == "?"):
        return "Quartz needs '?' in exactly one of day-of-month and day-of-week"
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
