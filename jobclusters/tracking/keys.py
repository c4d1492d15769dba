"""Table keys: safe characters, and timestamps that sort newest first."""

from __future__ import annotations

import re
from datetime import UTC, datetime

_FORBIDDEN = re.compile(r"[%/\\#?\x00-\x1f\x7f-\x9f]")
_INVERT_BASE = 10**17


def escape_key(value: str) -> str:
    """PartitionKey/RowKey may not hold / \\ # ? or control characters: percent-encode them (and %)."""
    escaped = _FORBIDDEN.sub(lambda m: f"%{ord(m.group()):02X}", value)
    if len(escaped.encode("utf-8")) > 1000:
        raise ValueError(f"key is longer than the 1 KiB Table storage allows: {value[:40]!r}...")
    return escaped


def micros(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1_000_000)


def inverted(moment: datetime) -> str:
    """A fixed-width string that sorts descending in time (the newest first in a partition scan)."""
    return f"{_INVERT_BASE - micros(moment):017d}"


def day(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y%m%d")
