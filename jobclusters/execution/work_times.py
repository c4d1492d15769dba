"""Which start and end an attempt records: the work's own, as the service reports them.

The orchestrator looks at remote work on a growing schedule, so when it notices a change says little about
how long the work took (`sleep 6` was once recorded as 12.6 s). The service's own times are the record;
what lay between the attempt's submit and the work's start (a queue, a pool or cluster starting) is kept
apart as `queue_seconds`. Only when a service gives no times does the record fall back to the orchestrator's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True)
class AttemptTimes:
    start: str
    end: str
    queue_seconds: float | None


def attempt_times(
    submitted: str, observed_end: str, work_start: str | None, work_end: str | None
) -> AttemptTimes:
    """`submitted` and `observed_end` are the orchestrator's (ISO 8601); the work's, when given, win."""
    start = work_start or submitted
    end = work_end if work_start and work_end and _at(work_end) >= _at(work_start) else observed_end
    if _at(end) < _at(start):
        end = start
    queue = max(0.0, (_at(work_start) - _at(submitted)).total_seconds()) if work_start else None
    return AttemptTimes(start=start, end=end, queue_seconds=None if queue is None else round(queue, 3))


def _at(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
