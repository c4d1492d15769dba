"""How often orchestrators look at remote work: intervals grow by a factor up to a cap, and the next
timer never fires after the task's deadline (so the deadline timer and the poll timer are one).

A schedule travels in the orchestrator's state (the activity that starts the work returns it), since an
orchestrator may not read settings. `signaled`: the executor raises `WORK_ENDED` on the attempt instance
when its work ends (the local executors do), so the orchestrator waits on that event or its poll timer,
whichever comes first; a lost signal costs one poll. On Azure nothing signals and the schedule rules.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from jobclusters.settings import Settings

#: the external event a local executor raises on the waiting attempt when its work ends
WORK_ENDED = "work_ended"


class PollSchedule(BaseModel):
    model_config = ConfigDict(frozen=True)

    first_seconds: float = 5.0
    factor: float = 1.5
    max_seconds: float = 300.0
    signaled: bool = False

    def __init__(
        self,
        first_seconds: float = 5.0,
        factor: float = 1.5,
        max_seconds: float = 300.0,
        signaled: bool = False,
    ) -> None:
        super().__init__(
            first_seconds=first_seconds, factor=factor, max_seconds=max_seconds, signaled=signaled
        )

    def next_interval(self, current: float | None) -> float:
        if current is None or current <= 0:
            return self.first_seconds
        return min(self.max_seconds, current * self.factor)


CLUSTER_POLL = PollSchedule(first_seconds=5.0, factor=1.5, max_seconds=300.0)
BATCH_POLL = PollSchedule(first_seconds=5.0, factor=1.5, max_seconds=120.0)
QUEUE_POLL = PollSchedule(first_seconds=15.0, factor=2.0, max_seconds=300.0)
#: a parent task looking at its child run (and at its own cancel marker)
CHILD_POLL = PollSchedule(first_seconds=2.0, factor=1.5, max_seconds=30.0)

#: the local executors (the embedded default) signal, so a poll is only the fallback for a lost signal,
#: and sub-second first polls keep even that short
LOCAL_CLUSTER_POLL = PollSchedule(first_seconds=0.5, factor=2.0, max_seconds=10.0, signaled=True)
LOCAL_BATCH_POLL = PollSchedule(first_seconds=0.5, factor=2.0, max_seconds=10.0, signaled=True)

#: polls per execution before an orchestrator continues as new (about 6 history events per poll)
POLLS_PER_EXECUTION = 40

Service = Literal["batch", "cluster"]


def default_schedule(service: Service, signals: bool) -> PollSchedule:
    """A service that signals the end of its work (the local executors) is polled only as a fallback,
    soon and often; one that does not (Azure's) with today's backoff."""
    if signals:
        return LOCAL_BATCH_POLL if service == "batch" else LOCAL_CLUSTER_POLL
    return BATCH_POLL if service == "batch" else CLUSTER_POLL


def next_fire_at(now: datetime, interval_seconds: float, deadline: datetime | None) -> datetime:
    fire_at = now + timedelta(seconds=interval_seconds)
    if deadline is not None and deadline < fire_at:
        return max(deadline, now)
    return fire_at


def past(deadline: datetime | None, now: datetime) -> bool:
    return deadline is not None and now >= deadline


def schedule_from_settings(service: Service, settings: Settings, *, signals: bool) -> PollSchedule:
    """The default for a service that does (or does not) signal, with whatever the app settings override."""
    base = default_schedule(service, signals)
    first = getattr(settings, f"{service}_poll_first_seconds")
    factor = getattr(settings, f"{service}_poll_factor")
    cap = getattr(settings, f"{service}_poll_max_seconds")
    return PollSchedule(
        first_seconds=base.first_seconds if first is None else first,
        factor=base.factor if factor is None else factor,
        max_seconds=base.max_seconds if cap is None else max(cap, first or 0.0),
        signaled=base.signaled,
    )
