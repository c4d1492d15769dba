"""When the dispatcher starts the next run of a job's blob rules: pure functions of the pending arrivals,
the runs in flight and the time, so they are tested with an injected clock and replay deterministically.

- A Databricks `file_arrival` rule starts one run for every file pending under it, once no file arrived
  for `wait_after_last_change_seconds` and at least `min_time_between_triggers_seconds` passed since its
  previous run started; while its run is active the files wait for the next one (never a SKIPPED run:
  our runs are handed their files, so a skipped trigger would lose them).
- An ADF storage-event rule starts one run per blob, as soon as a slot of `max_concurrent_runs` is free;
  the others wait in arrival order (ADF queues pipeline runs beyond `concurrency`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from jobclusters.arrivals.models import PendingGroup

#: files one file-arrival run is handed at most; the rest go to the next run
MAX_FILES_PER_RUN = 1000


@dataclass(frozen=True)
class Launch:
    rule: int
    limit: int


@dataclass(frozen=True)
class Plan:
    launches: list[Launch]
    wake_at: datetime | None


def file_arrival_due(group: PendingGroup, last_trigger: datetime | None) -> datetime:
    """The earliest moment the rule's next run may start."""
    due = group.last_arrival + timedelta(seconds=group.wait_after_last_change_seconds)
    if last_trigger is not None:
        due = max(due, last_trigger + timedelta(seconds=group.min_time_between_triggers_seconds))
    return due


def plan(
    groups: list[PendingGroup],
    *,
    now: datetime,
    active_rules: list[int],
    max_concurrent_runs: int | None,
    last_triggers: dict[int, datetime],
    most_runs: int,
) -> Plan:
    """Which rules start runs now (and how many blobs each may claim), and when to look again if some
    pending arrivals are not due yet. `active_rules` holds the rule of every run in flight; a job with no
    limit (None) starts a run for every pending blob. At most `most_runs` start (what the dispatcher's
    history has room for); the rest stay pending for its next pass."""
    free = math.inf if max_concurrent_runs is None else max(0, max_concurrent_runs - len(active_rules))
    free = min(free, most_runs)
    launches: list[Launch] = []
    waits: list[datetime] = []
    for group in sorted(groups, key=lambda g: (g.first_arrival, g.rule)):
        if group.count <= 0:
            continue
        if group.kind == "storage_event":
            take = int(min(free, group.count))
            if take:
                launches.append(Launch(group.rule, take))
                free -= take
            continue
        if group.rule in active_rules:
            continue  # the run in flight ends first; its end wakes the dispatcher
        due = file_arrival_due(group, last_triggers.get(group.rule))
        if due > now:
            waits.append(due)
        elif free:
            launches.append(Launch(group.rule, MAX_FILES_PER_RUN))
            free -= 1
    return Plan(launches, min(waits) if waits else None)
