"""An ADF Until's timeout as a deadline that everything inside its pass keeps.

An orchestration cannot kill the work of another: a Batch task or a Spark run is stopped by its own
timeout, which already terminates it. So a pass is held to the Until's deadline by capping the timeout of
every task started inside it, at any depth (a ForEach's iterations, a nested Until's passes), at the time
left, and by starting nothing once none is left.
"""

from __future__ import annotations

import math
from datetime import datetime

from jobclusters.spec.model import Task

#: why a task inside an Until's pass was not started
NOT_STARTED = "not started: the Until's timeout had passed"


def seconds_left(deadline: str | None, now: datetime) -> float | None:
    """Seconds from `now` to the deadline (negative once past), None without one."""
    if deadline is None:
        return None
    return (datetime.fromisoformat(deadline) - now).total_seconds()


def capped(task: Task, left: float | None) -> Task:
    """The task with its timeout no later than `left` seconds from now."""
    if left is None or (task.timeout_seconds is not None and task.timeout_seconds <= left):
        return task
    return task.model_copy(update={"timeout_seconds": max(1, math.ceil(left))})


def earliest(*deadlines: str | None) -> str | None:
    """The first of some deadlines (an Until inside another keeps both)."""
    known = [d for d in deadlines if d is not None]
    return min(known, key=datetime.fromisoformat) if known else None
