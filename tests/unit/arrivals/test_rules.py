"""The dispatcher's rules with an injected clock: Databricks file-arrival debounce (both wait settings, one
run in flight per rule, all pending files to the next run) and ADF storage events (one run per blob,
queued beyond max_concurrent_runs, in arrival order)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from jobclusters.arrivals.models import PendingGroup, RuleKind
from jobclusters.arrivals.rules import MAX_FILES_PER_RUN, Launch, Plan, file_arrival_due, plan

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _plan(pending: list[PendingGroup], *, most_runs: int = 25, **rest: Any) -> Plan:
    """`plan` with room in the dispatcher's history for 25 runs unless a test says otherwise."""
    return plan(pending, most_runs=most_runs, **rest)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def group(
    rule: int = 0,
    kind: RuleKind = "file_arrival",
    count: int = 3,
    first: float = 0,
    last: float = 0,
    between: int = 0,
    wait: int = 0,
) -> PendingGroup:
    return PendingGroup(
        rule=rule,
        kind=kind,
        count=count,
        first_arrival=at(first),
        last_arrival=at(last),
        min_time_between_triggers_seconds=between,
        wait_after_last_change_seconds=wait,
    )


def test_without_waits_the_pending_files_start_a_run_at_once() -> None:
    result = _plan([group()], now=at(0), active_rules=[], max_concurrent_runs=1, last_triggers={})
    assert result.launches == [Launch(0, MAX_FILES_PER_RUN)] and result.wake_at is None


def test_wait_after_last_change_counts_from_the_newest_file() -> None:
    pending = [group(first=0, last=8, wait=5)]
    early = _plan(pending, now=at(12), active_rules=[], max_concurrent_runs=1, last_triggers={})
    assert early.launches == [] and early.wake_at == at(13)
    due = _plan(pending, now=at(13), active_rules=[], max_concurrent_runs=1, last_triggers={})
    assert due.launches == [Launch(0, MAX_FILES_PER_RUN)]


def test_min_time_between_triggers_counts_from_the_previous_run_start() -> None:
    pending = [group(first=20, last=20, between=60)]
    early = _plan(pending, now=at(30), active_rules=[], max_concurrent_runs=1, last_triggers={0: at(10)})
    assert early.launches == [] and early.wake_at == at(70)
    assert file_arrival_due(pending[0], at(10)) == at(70)
    due = _plan(pending, now=at(70), active_rules=[], max_concurrent_runs=1, last_triggers={0: at(10)})
    assert due.launches == [Launch(0, MAX_FILES_PER_RUN)]


def test_the_later_of_both_waits_decides() -> None:
    assert file_arrival_due(group(last=50, wait=30, between=60), at(0)) == at(80)
    assert file_arrival_due(group(last=10, wait=30, between=60), at(0)) == at(60)


def test_files_arriving_while_the_rules_run_is_active_wait_for_its_end_and_are_not_skipped() -> None:
    result = _plan(
        [group(count=7, wait=0)], now=at(100), active_rules=[0], max_concurrent_runs=5, last_triggers={}
    )
    assert result.launches == [] and result.wake_at is None  # the run's end wakes the dispatcher


def test_storage_events_start_one_run_per_blob_up_to_the_free_slots() -> None:
    pending = [group(rule=1, kind="storage_event", count=50)]
    first = _plan(pending, now=at(0), active_rules=[], max_concurrent_runs=1, last_triggers={})
    assert first.launches == [Launch(1, 1)]
    full = _plan(pending, now=at(0), active_rules=[1], max_concurrent_runs=1, last_triggers={})
    assert full.launches == [] and full.wake_at is None
    wide = _plan(pending, now=at(0), active_rules=[1], max_concurrent_runs=4, last_triggers={})
    assert wide.launches == [Launch(1, 3)]


def test_rules_share_the_jobs_slots_oldest_arrivals_first() -> None:
    pending = [
        group(rule=0, kind="storage_event", count=2, first=5),
        group(rule=1, kind="file_arrival", count=4, first=1, last=3),
    ]
    result = _plan(pending, now=at(10), active_rules=[], max_concurrent_runs=2, last_triggers={})
    assert result.launches == [Launch(1, MAX_FILES_PER_RUN), Launch(0, 1)]


def test_nothing_pending_plans_nothing() -> None:
    result = _plan([], now=at(0), active_rules=[], max_concurrent_runs=1, last_triggers={})
    assert result.launches == [] and result.wake_at is None


def test_a_job_with_no_limit_starts_a_run_per_blob_as_far_as_the_dispatchers_history_has_room() -> None:
    burst = [group(rule=1, kind="storage_event", count=40)]
    busy = _plan(burst, now=at(0), active_rules=[1] * 30, max_concurrent_runs=None, last_triggers={})
    assert busy.launches == [Launch(1, 25)], "an ADF pipeline without concurrency queues nothing"
    both = [group(rule=1, kind="storage_event", count=20), group(rule=2, kind="file_arrival", count=3)]
    room = _plan(both, now=at(0), active_rules=[], max_concurrent_runs=None, last_triggers={}, most_runs=30)
    assert room.launches == [Launch(1, 20), Launch(2, MAX_FILES_PER_RUN)]
