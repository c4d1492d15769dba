"""How often orchestrators look at remote work: intervals grow by a factor up to a cap, and the next
timer never fires after the task's deadline (so the deadline timer and the poll timer are one)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class PollSchedule:
    first_seconds: float = 5.0
    factor: float = 1.5
    max_seconds: float = 300.0

    def next_interval(self, current: float | None) -> float:
        if current is None or current <= 0:
            return self.first_seconds
        return min(self.max_seconds, current * self.factor)


CLUSTER_POLL = PollSchedule(first_seconds=5.0, factor=1.5, max_seconds=300.0)
BATCH_POLL = PollSchedule(first_seconds=5.0, factor=1.5, max_seconds=120.0)
QUEUE_POLL = PollSchedule(first_seconds=15.0, factor=2.0, max_seconds=300.0)
#: a parent task looking at its child run (and at its own cancel marker)
CHILD_POLL = PollSchedule(first_seconds=2.0, factor=1.5, max_seconds=30.0)

#: polls per execution before an orchestrator continues as new (about 6 history events per poll)
POLLS_PER_EXECUTION = 40


def next_fire_at(now: datetime, interval_seconds: float, deadline: datetime | None) -> datetime:
    fire_at = now + timedelta(seconds=interval_seconds)
    if deadline is not None and deadline < fire_at:
        return max(deadline, now)
    return fire_at


def past(deadline: datetime | None, now: datetime) -> bool:
    return deadline is not None and now >= deadline
