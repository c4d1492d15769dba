"""The wait between two polls of remote work: the poll timer, or (where the executor signals, locally)
whichever comes first of the timer and the executor's `WORK_ENDED` event. Deterministic.

The event is only a hint to poll now: the poll that follows decides. A lost signal costs one poll; a late
one (its work already seen ended) is never waited for again; on Azure (`signaled` false) nothing but the
timer is ever waited on.
"""

from __future__ import annotations

from collections.abc import Generator
from datetime import datetime
from typing import Any

from jobclusters.execution.polling import WORK_ENDED, PollSchedule, next_fire_at


def wait_for_work(
    context: Any, schedule: PollSchedule, interval: float, deadline: datetime | None
) -> Generator[Any, Any, None]:
    """`yield from` this: returns when the poll timer fires (never after `deadline`) or the work ended."""
    timer = context.create_timer(next_fire_at(context.current_utc_datetime, interval, deadline))
    if not schedule.signaled:
        yield timer
        return
    ended = context.wait_for_external_event(WORK_ENDED)
    winner = yield context.task_any([ended, timer])
    if winner is not timer:
        timer.cancel()


def signal_to(context: Any, schedule: PollSchedule) -> str | None:
    """The instance an executor that signals should wake: this one, when its schedule expects signals."""
    return str(context.instance_id) if schedule.signaled else None
