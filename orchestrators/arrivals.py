"""`dispatch_arrivals`: the one orchestration per job with blob rules that turns pending arrivals into runs.

The Event Grid handler only records an upload (`jobclusters.arrivals.store`) and nudges this instance (an
`arrival` event, or starting it when absent), so the rows are the truth and the events are hints: each pass
reads what is pending, starts what `jobclusters.arrivals.rules.plan` says is due (each run a `run_job`
sub-orchestration, its blobs claimed first), then waits for a new arrival, a run to end, or the moment the
next file-arrival run is due. A lost nudge delays work by at most `IDLE_RECHECK`, never drops it.

History stays bounded: after `RUNS_PER_GENERATION` runs (or `PASSES_PER_GENERATION` passes) no new run
starts until the ones in flight end, and an idle dispatcher continues as new (after its idle wait when it
started nothing).
"""

from __future__ import annotations

from collections.abc import Generator
from datetime import datetime, timedelta
from typing import Any

import azure.durable_functions as df

from jobclusters.arrivals.models import (
    ARRIVAL_EVENT,
    ClaimInput,
    DispatchState,
    PendingInput,
    SignedRunRequest,
)
from jobclusters.arrivals.rules import Plan, plan
from jobclusters.execution import registry
from jobclusters.run_request import RUN_JOB_ORCHESTRATOR
from orchestrators.common import decode_input, dump, result_of

bp = df.Blueprint()

RUNS_PER_GENERATION = 25
PASSES_PER_GENERATION = 200
IDLE_RECHECK = timedelta(minutes=5)


class _Waits:
    """The arrival waiter and the wake timer, kept across passes until they fire (a new one only when none
    is open, or the wake moves earlier), so most passes wait on tasks that are already scheduled."""

    def __init__(self, context: Any) -> None:
        self.context = context
        self.arrival: Any = None
        self.timer: Any = None
        self.timer_at: datetime | None = None
        self.created = False

    def tasks(self, wake_at: datetime | None) -> list[Any]:
        # One that fired without winning its pass is spent too (the pass reads the table anyway); kept, it
        # would end every later wait at once.
        if self.arrival is not None and self.arrival.is_completed:
            self.arrival = None
        if self.timer is not None and self.timer.is_completed:
            self.timer, self.timer_at = None, None
        if self.arrival is None:
            self.arrival, self.created = self.context.wait_for_external_event(ARRIVAL_EVENT), True
        if wake_at is not None and (self.timer_at is None or wake_at < self.timer_at):
            if self.timer is not None and not self.timer.is_completed:
                self.timer.cancel()
            self.timer, self.timer_at, self.created = self.context.create_timer(wake_at), wake_at, True
        return [self.arrival] + ([self.timer] if self.timer is not None else [])

    def after(self, winner: Any) -> None:
        if winner is self.arrival:
            self.arrival = None
        if winner is self.timer:
            self.timer, self.timer_at = None, None


def _wait_any(context: Any, tasks: list[Any], created: bool) -> Generator[Any, Any, Any]:
    """`task_any` as the extension walks it: a compound is awaited on its *new* children only, so one with
    new children (a run just started, a new waiter or timer) gets a timer that fires now, and the real
    wait is a compound of scheduled tasks only, which the extension passes at once while the orchestrator
    waits for the first of them."""
    if created:
        now_timer = context.create_timer(context.current_utc_datetime)
        winner = yield context.task_any([*tasks, now_timer])
        if winner is not now_timer:
            return winner
    return (yield context.task_any(tasks))


@bp.orchestration_trigger(context_name="context")
def dispatch_arrivals(context: df.DurableOrchestrationContext) -> Generator[Any, Any, dict[str, Any] | None]:
    state = decode_input(context, DispatchState)
    last = dict(state.last_triggers)
    active: dict[str, tuple[Any, int]] = {}
    waits = _Waits(context)
    started = passes = 0
    while True:
        pending = yield from result_of(
            context, registry.PENDING_ARRIVALS, PendingInput(job_id=state.job_id), store=True
        )
        if not pending.registered and not active:
            return {"job_id": state.job_id, "ended": "the job is no longer registered"}
        now = context.current_utc_datetime
        todo = Plan([], None)
        passes += 1
        if pending.registered and started < RUNS_PER_GENERATION and passes < PASSES_PER_GENERATION:
            todo = plan(
                pending.groups,
                now=now,
                active_rules=[rule for _, rule in active.values()],
                max_concurrent_runs=pending.max_concurrent_runs,
                last_triggers=last,
                most_runs=RUNS_PER_GENERATION - started,
            )
        runs: list[tuple[SignedRunRequest, int]] = []
        for launch in todo.launches:
            # Replay-safe and unique across task hubs: every host's dispatcher has the same instance id.
            token = str(context.new_guid())
            claim = ClaimInput(job_id=state.job_id, rule=launch.rule, token=token, limit=launch.limit)
            claimed = yield from result_of(context, registry.CLAIM_ARRIVALS, claim, store=True)
            runs += [(run, launch.rule) for run in claimed.runs]
        for run, rule in runs:  # started after the last claim: see `_Waits`
            request = run.request
            task = context.call_sub_orchestrator(RUN_JOB_ORCHESTRATOR, run.run_job_input(), request.run_id)
            active[request.run_id] = (task, rule)
            started += 1
            if request.trigger.detail.get("rule_kind") == "file_arrival":
                last[rule] = now
        idle = not active and todo.wake_at is None
        if idle and started:
            break
        waits.created = bool(runs)
        tasks = [*waits.tasks(now + IDLE_RECHECK if idle else todo.wake_at)]
        tasks += [task for task, _ in active.values()]
        winner = yield from _wait_any(context, tasks, waits.created)
        waits.after(winner)
        if idle:
            break
        for run_id in [r for r, (task, _) in active.items() if task.is_completed]:
            del active[run_id]
    context.continue_as_new(
        dump(state.model_copy(update={"generation": state.generation + 1, "last_triggers": last}))
    )
    return None
