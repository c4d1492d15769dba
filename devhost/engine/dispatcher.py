"""Dispatch: plays the Durable extension and its backend for one app, persisted in SQLite.

One dispatcher task on the event loop runs orchestrator episodes (SDK code, in-process), commits each episode
in one transaction, hands activities to a bounded pool and fires timers. Completions are persisted as messages
before they are delivered, so a crash loses nothing that finished; an activity still running at the crash is
run again on restart (at-least-once). The client API (devhost.engine.engine) only stores messages for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import json
import logging
import uuid
from collections import deque
from datetime import datetime
from pathlib import Path
from typing import Any

from devhost.app_loader import LoadedApp
from devhost.engine import history as h
from devhost.engine.activities import ActivityOutcome, ActivityRunner, ActivityWork
from devhost.engine.clock import Clock
from devhost.engine.decisions import (
    CreateTimer,
    Decision,
    EntityDecision,
    ScheduleActivity,
    SignalEntity,
    StartSubOrchestration,
)
from devhost.engine.entities import run_entity_batch
from devhost.engine.inbox import triage
from devhost.engine.messages import EntityOperation, HistoryMessage
from devhost.engine.replay_check import check_against_full_replay
from devhost.engine.runtime import (
    ACTIVE,
    TERMINAL,
    EngineStats,
    EntityOutgoing,
    Outgoing,
    PendingTimer,
    Runtime,
    instance_state,
)
from devhost.engine.session import Session, StepResult
from devhost.engine.shim import (
    NonDeterminismError,
    ShimWalk,
    UnknownFunction,
    UnsupportedAction,
    entity_name_of,
    rebuild,
)
from devhost.engine.store import InstanceRow, Store
from devhost.engine_api import InstanceAlreadyRunning, InstanceState, RuntimeStatus
from devhost.invoke import ClientBindingSource

log = logging.getLogger("devhost.engine")


class UnknownOrchestrator(ValueError):
    pass


class Dispatcher:
    """Runs every instance's episodes; `DurableEngine` adds the client API on top."""

    def __init__(
        self,
        app: LoadedApp,
        store_path: Path | None = None,
        *,
        virtual_time: bool = False,
        batch_completions: bool = True,
        check_replay: bool = False,
        extended_sessions: bool = True,
        max_concurrent_activities: int | None = None,
        max_concurrent_orchestrators: int | None = None,
        client_binding: ClientBindingSource | None = None,
    ) -> None:
        opts = app.durable_task_options()
        self.app = app
        self.clock = Clock(virtual_time)
        self.batch_completions = batch_completions
        self.check_replay = check_replay
        self.extended_sessions = extended_sessions
        self.max_concurrent_activities = int(
            max_concurrent_activities or opts.get("maxConcurrentActivityFunctions") or 10
        )
        # Orchestrator code runs on the dispatcher, one episode at a time, which respects any bound >= 1.
        self.max_concurrent_orchestrators = int(
            max_concurrent_orchestrators or opts.get("maxConcurrentOrchestratorFunctions") or 10
        )
        self.store = Store(store_path)
        self.runner = ActivityRunner(app.activities, self.max_concurrent_activities, client_binding)
        self.stats = EngineStats()
        self._runtimes: dict[str, Runtime] = {}
        self._ready: deque[str] = deque()
        self._ready_set: set[str] = set()
        self._timers: list[PendingTimer] = []
        self._activity_queue: deque[ActivityWork] = deque()
        self._running_activities = 0
        self._completions: list[tuple[ActivityWork, ActivityOutcome]] = []
        self._activity_tasks: set[asyncio.Task[None]] = set()
        self._terminal_waiters: dict[str, list[asyncio.Future[InstanceState]]] = {}
        self._entity_inboxes: dict[str, deque[tuple[int, EntityOperation]]] = {}
        self._entity_functions = {name.lower(): fn for name, fn in app.entities.items()}
        self._wake: asyncio.Event | None = None
        self._idle: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._recovered = False

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        if self._task is not None:
            return
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._stopping = False
        self._recover()
        self._task = asyncio.create_task(self._dispatch_loop(), name="devhost-durable-dispatcher")

    async def run(self) -> None:
        await self.start()
        assert self._task is not None
        await self._task

    async def stop(self) -> None:
        self._stopping = True
        self._poke()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, timeout=5)
            except (TimeoutError, asyncio.CancelledError):
                self._task.cancel()
            self._task = None
        for task in list(self._activity_tasks):
            task.cancel()
        self.runner.close()
        self.store.close()

    def _poke(self) -> None:
        if self._idle is not None:
            self._idle.clear()
        if self._wake is not None:
            self._wake.set()

    def _recover(self) -> None:
        if self._recovered:
            return
        self._recovered = True
        for row in self.store.instances_with_status(ACTIVE):
            if row.instance_id not in self._runtimes:
                self._runtimes[row.instance_id] = Runtime(
                    row=row, history=self.store.load_history(row.instance_id)
                )
        for mid, instance_id, message in self.store.load_messages():
            if isinstance(message, EntityOperation):
                self._entity_inbox(instance_id).append((mid, message))
                self._mark_ready(instance_id)
                continue
            rt = self._runtimes.get(instance_id)
            if rt is not None and all(mid != m for m, _ in rt.inbox):
                rt.inbox.append((mid, message))
                self._mark_ready(instance_id)
        for instance_id, execution_id, task_id, name, input_json in self.store.load_activities():
            self._activity_queue.append(ActivityWork(instance_id, execution_id, task_id, name, input_json))
        for instance_id, execution_id, timer_id, fire_at in self.store.load_timers():
            heapq.heappush(
                self._timers, PendingTimer(h.parse_ts(fire_at), instance_id, execution_id, timer_id, fire_at)
            )
        if self._runtimes:
            log.info(
                "recovered %d in-flight instance(s), %d activity(ies) to (re)run, %d timer(s)",
                len(self._runtimes),
                len(self._activity_queue),
                len(self._timers),
            )

    # ------------------------------------------------------------------ dispatcher
    def _create_instance(
        self,
        db: Any,
        name: str,
        instance_id: str,
        input_json: str | None,
        parent_id: str | None,
        parent_task_id: int | None,
    ) -> None:
        existing = self.store.get_instance(instance_id)
        if existing is not None and existing.status not in TERMINAL:
            raise InstanceAlreadyRunning(f"an instance with id '{instance_id}' is already {existing.status}")
        if existing is not None:
            self.store.delete_instance(db, instance_id)
        now = self.clock.now()
        execution_id = uuid.uuid4().hex
        ts = now.timestamp()
        row = InstanceRow(
            instance_id,
            name,
            RuntimeStatus.PENDING.value,
            input_json,
            None,
            None,
            parent_id,
            parent_task_id,
            execution_id,
            ts,
            ts,
        )
        self.store.upsert_instance(db, row)
        started = h.execution_started(now, name, input_json, instance_id, execution_id, parent_id)
        message = HistoryMessage(started, execution_id)
        mid = self.store.add_message(db, instance_id, message)
        rt = Runtime(row=row, history=[])
        rt.inbox.append((mid, message))
        self._runtimes[instance_id] = rt
        self._mark_ready(instance_id)

    def _mark_ready(self, instance_id: str) -> None:
        if instance_id not in self._ready_set:
            self._ready_set.add(instance_id)
            self._ready.append(instance_id)

    def _reload(self, instance_id: str) -> None:
        self._runtimes.pop(instance_id, None)
        if instance_id.startswith("@"):
            self._entity_inboxes.pop(instance_id, None)
        for mid, owner, message in self.store.load_messages():
            if owner != instance_id:
                continue
            if isinstance(message, EntityOperation):
                self._entity_inbox(instance_id).append((mid, message))
            else:
                rt = self._runtime(instance_id)
                if rt is not None:
                    rt.inbox.append((mid, message))
        self._mark_ready(instance_id)

    def _runtime(self, instance_id: str) -> Runtime | None:
        rt = self._runtimes.get(instance_id)
        if rt is None:
            row = self.store.get_instance(instance_id)
            if row is None or row.status in TERMINAL:
                return None
            rt = Runtime(row=row, history=self.store.load_history(instance_id))
            self._runtimes[instance_id] = rt
        return rt

    async def _dispatch_loop(self) -> None:
        while not self._stopping:
            try:
                await self._dispatch_once()
            except Exception:
                # A storage error (disk full, a second process holding the lock) must not kill the host.
                log.exception("durable dispatcher step failed; retrying")
                await asyncio.sleep(0.5)

    async def _dispatch_once(self) -> None:
        assert self._wake is not None
        if not self._stopping:
            self._wake.clear()
            self._flush_completions()
            self._fire_due_timers()
            count = 0
            while self._ready and not self._stopping:
                instance_id = self._ready.popleft()
                self._ready_set.discard(instance_id)
                try:
                    self._run_episode(instance_id)
                except Exception:
                    # Nothing was committed: start this instance again from what the store holds.
                    self._reload(instance_id)
                    raise
                count += 1
                if count % 64 == 0:
                    self._start_activities()
                    await asyncio.sleep(0)
                    self._flush_completions()
            self._start_activities()
            if self._ready or self._completions:
                await asyncio.sleep(0)
                return
            if (
                self.clock.virtual
                and self._timers
                and self._running_activities == 0
                and not self._activity_queue
            ):
                self.clock.jump_to(self._timers[0].fire_at)
                return
            timeout = None
            if self._timers:
                timeout = max(0.0, self.clock.seconds_until(self._timers[0].fire_at))
            quiet = self._running_activities == 0 and not self._wake.is_set() and timeout != 0.0
            if self._idle is not None and quiet:
                self._idle.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    # -- activities
    def _start_activities(self) -> None:
        while self._activity_queue and self._running_activities < self.max_concurrent_activities:
            work = self._activity_queue.popleft()
            self._running_activities += 1
            task = asyncio.get_running_loop().create_task(self._run_activity(work))
            self._activity_tasks.add(task)
            task.add_done_callback(self._activity_tasks.discard)

    async def _run_activity(self, work: ActivityWork) -> None:
        try:
            outcome = await self.runner.run(work)
        except BaseException as exc:  # cancelled at shutdown: the row stays, it runs again next start
            self._running_activities -= 1
            if isinstance(exc, asyncio.CancelledError):
                raise
            return
        self._running_activities -= 1
        self.stats.activities_run += 1
        if not outcome.ok:
            log.warning(
                "activity %s failed (instance %s, task %d): %s",
                work.name,
                work.instance_id,
                work.task_id,
                outcome.reason,
            )
        self._completions.append((work, outcome))
        self._poke()

    def _flush_completions(self) -> None:
        if not self._completions:
            return
        batch, self._completions = self._completions, []
        now = self.clock.now()
        delivered: list[Outgoing] = []
        try:
            self._record_completions(batch, now, delivered)
        except Exception:
            self._completions[:0] = batch
            raise
        self._deliver(delivered)

    def _deliver(self, delivered: list[Outgoing]) -> None:
        """Hand messages already stored to the in-memory runtimes of their instances (if loaded)."""
        for instance_id, mid, message in delivered:
            rt = self._runtimes.get(instance_id)
            if rt is not None:
                rt.inbox.append((mid, message))
                self._mark_ready(instance_id)

    def _record_completions(
        self,
        batch: list[tuple[ActivityWork, ActivityOutcome]],
        now: datetime,
        delivered: list[Outgoing],
    ) -> None:
        with self.store.transaction() as db:
            for work, outcome in batch:
                self.store.delete_activity(db, work.instance_id, work.execution_id, work.task_id)
                if outcome.ok:
                    ev = h.task_completed(now, work.task_id, outcome.result)
                else:
                    ev = h.task_failed(now, work.task_id, outcome.reason, outcome.details)
                message = HistoryMessage(ev, work.execution_id)
                delivered.append(
                    (work.instance_id, self.store.add_message(db, work.instance_id, message), message)
                )

    # -- timers
    def _fire_due_timers(self) -> None:
        now = self.clock.now()
        due: list[PendingTimer] = []
        while self._timers and self._timers[0].fire_at <= now:
            due.append(heapq.heappop(self._timers))
        if not due:
            return
        delivered: list[Outgoing] = []
        try:
            self._record_timers(due, now, delivered)
        except Exception:
            for timer in due:
                heapq.heappush(self._timers, timer)
            raise
        self._deliver(delivered)

    def _record_timers(self, due: list[PendingTimer], now: datetime, delivered: list[Outgoing]) -> None:
        with self.store.transaction() as db:
            for timer in due:
                self.store.delete_timer(db, timer.instance_id, timer.execution_id, timer.timer_id)
                rt = self._runtimes.get(timer.instance_id)
                if rt is None or rt.row.execution_id != timer.execution_id:
                    continue
                ev = h.timer_fired(now, timer.timer_id, timer.fire_at_text)
                message = HistoryMessage(ev, timer.execution_id)
                delivered.append(
                    (timer.instance_id, self.store.add_message(db, timer.instance_id, message), message)
                )

    # ------------------------------------------------------------------ episodes
    def _run_episode(self, instance_id: str) -> None:
        if instance_id.startswith("@"):
            self._run_entity_batch(instance_id)
            return
        rt = self._runtimes.get(instance_id)
        if rt is None or not rt.inbox:
            return
        row = rt.row
        if row.status in TERMINAL:
            with self.store.transaction() as db:
                self.store.delete_messages(db, [m for m, _ in rt.inbox])
            rt.inbox.clear()
            self._runtimes.pop(instance_id, None)
            return
        now = self.clock.now()
        triaged = triage(
            rt.inbox,
            instance_id=instance_id,
            execution_id=row.execution_id,
            suspended=row.status == RuntimeStatus.SUSPENDED.value,
            batch_completions=self.batch_completions,
            now=now,
        )
        if triaged.terminate_reason is not None:
            self._terminate_now(rt, now, triaged.terminate_reason, triaged.consumed)
            return
        suspended = triaged.suspended
        rt.inbox = triaged.remaining
        if rt.inbox and not suspended:
            self._mark_ready(instance_id)
        if triaged.status_change:
            log.info("instance %s (%s) %s", instance_id, row.name, triaged.status_change)
        if not triaged.delivered:
            status = (
                RuntimeStatus.SUSPENDED.value
                if suspended
                else (
                    RuntimeStatus.RUNNING.value if row.status == RuntimeStatus.SUSPENDED.value else row.status
                )
            )
            self._commit_control(rt, now, triaged.consumed, triaged.control_history, status)
            return
        self._orchestrate(rt, now, triaged.delivered, triaged.consumed, triaged.control_history, suspended)

    def _commit_control(
        self, rt: Runtime, now: datetime, consumed: list[int], extra: list[h.Event], status: str
    ) -> None:
        rt.row.status = status
        rt.row.updated = now.timestamp()
        with self.store.transaction() as db:
            self.store.delete_messages(db, consumed)
            if extra:
                self.store.append_history(db, rt.row.instance_id, len(rt.history), extra)
            self.store.upsert_instance(db, rt.row)
        rt.history.extend(extra)

    def _terminate_now(self, rt: Runtime, now: datetime, reason: str, consumed: list[int]) -> None:
        row = rt.row
        row.status = RuntimeStatus.TERMINATED.value
        row.output = json.dumps(reason)
        row.updated = now.timestamp()
        ev = h.event(h.EventType.EXECUTION_TERMINATED, now, Input=json.dumps(reason))
        with self.store.transaction() as db:
            self.store.delete_messages(db, consumed)
            self.store.append_history(db, row.instance_id, len(rt.history), [ev])
            self.store.delete_work_of(db, row.instance_id)
            self.store.upsert_instance(db, row)
            parent = self._notify_parent(
                db,
                row,
                now,
                failed=True,
                reason=f"Orchestrator function '{row.name}' was terminated: {reason}",
            )
        rt.history.append(ev)
        self._after_terminal(rt, parent)
        log.info("instance %s (%s) terminated: %s", row.instance_id, row.name, reason)

    def _session_step(self, rt: Runtime, new_events: list[h.Event]) -> tuple[StepResult, list[Decision]]:
        """Run orchestrator code for one episode; also return decisions a rebuild found owed."""
        row = rt.row
        fn = self.app.orchestrators.get(row.name)
        if fn is None:
            raise UnknownOrchestrator(
                f"The function '{row.name}' doesn't exist, is disabled, or is not an orchestrator function."
            )
        handle = fn.get_user_function()
        owed: list[Decision] = []
        if rt.session is None or rt.walk is None or not self.extended_sessions:
            full = rt.history + new_events
            session, result = Session.open(
                handle, row.instance_id, full, row.input, row.parent_instance_id, new_from=len(rt.history)
            )
            self.stats.full_replays += 1
            self.stats.replayed_events += session.fed_events
            walk = ShimWalk(
                row.instance_id,
                row.execution_id,
                self.clock.now(),
                known_activities=frozenset(self.app.activities),
                known_orchestrators=frozenset(self.app.orchestrators),
                known_entities=frozenset(self._entity_functions),
            )
            walk.add_actions(result.new_actions)
            owed = rebuild(walk, rt.history)
            rt.session, rt.walk = session, walk
        else:
            before = rt.session.fed_events
            result = rt.session.step(new_events)
            self.stats.replayed_events += rt.session.fed_events - before
            rt.walk.add_actions(result.new_actions)
        if self.check_replay:
            assert rt.walk is not None
            self.stats.replayed_events += len(rt.history) + len(new_events)
            check_against_full_replay(handle, row, rt.history + new_events, result, rt.walk.actions)
        return result, owed

    def _orchestrate(
        self,
        rt: Runtime,
        now: datetime,
        delivered: list[h.Event],
        consumed: list[int],
        extra_history: list[h.Event],
        suspended: bool,
    ) -> None:
        row = rt.row
        self.stats.episodes += 1
        new_events = [h.orchestrator_started(now), *delivered, *extra_history]
        error: str | None = None
        decisions: list[Decision] = []
        result: StepResult | None = None
        try:
            result, owed = self._session_step(rt, new_events)
            assert rt.walk is not None
            walk = rt.walk
            walk.now = now
            for ev in delivered:
                walk.apply(ev)
            walk.advance()
            decisions = owed + walk.take_decisions()
            if result.error is not None:
                error = result.error
            elif walk.sdk_ahead() and not rt.warned_ahead:
                rt.warned_ahead = True
                log.warning(
                    "instance %s (%s) moved past a task_all that the Durable extension still waits on "
                    "(a child failed while others run); its next actions are scheduled only when every "
                    "child has finished, as on Azure.%s",
                    row.instance_id,
                    row.name,
                    " Retries still running inside it will get task ids the Python SDK does not expect "
                    "(an SDK/extension mismatch that exists on Azure too)."
                    if walk.retry_pending()
                    else "",
                )
        except (NonDeterminismError, UnsupportedAction, UnknownOrchestrator, UnknownFunction) as exc:
            error = str(exc)
        except Exception as exc:  # a bug in devhost or the SDK must fail the instance, not the host
            log.exception("orchestrator episode for %s failed inside devhost", row.instance_id)
            error = f"{type(exc).__name__}: {exc}"
        was_pending = row.status == RuntimeStatus.PENDING.value
        if was_pending:
            log.info("instance %s (%s) started", row.instance_id, row.name)
        log.debug(
            "episode %s (%s): %d new event(s), %d decision(s)",
            row.instance_id,
            row.name,
            len(delivered),
            len(decisions),
        )
        history_add = list(new_events)
        if result is not None and result.custom_status is not None:
            # Like the extension: a status is only ever replaced, never cleared by a later null.
            row.custom_status = json.dumps(result.custom_status)
        row.updated = now.timestamp()
        if error is not None:
            self._finish(rt, now, history_add, consumed, failed_with=error)
            return
        assert result is not None and rt.walk is not None
        if result.done:
            # Signals sent in the last episode still go out, as the extension sends them with the completion.
            signals = [d for d in decisions if isinstance(d, SignalEntity)]
            history_add.extend(d.to_event(now) for d in signals)
            if result.continue_as_new is not None:
                self._continue_as_new(
                    rt, now, history_add, consumed, result.continue_as_new.get("input"), signals
                )
            else:
                self._finish(rt, now, history_add, consumed, output=result.output, signals=signals)
            return
        history_add.extend(d.to_event(now) for d in decisions)
        history_add.append(h.orchestrator_completed(now))
        row.status = RuntimeStatus.SUSPENDED.value if suspended else RuntimeStatus.RUNNING.value
        children: list[str] = []
        entity_messages: list[EntityOutgoing] = []
        with self.store.transaction() as db:
            self.store.delete_messages(db, consumed)
            self.store.append_history(db, row.instance_id, len(rt.history), history_add)
            for d in decisions:
                match d:
                    case ScheduleActivity():
                        self.store.add_activity(
                            db, row.instance_id, row.execution_id, d.event_id, d.name, d.input
                        )
                    case CreateTimer():
                        self.store.add_timer(
                            db, row.instance_id, row.execution_id, d.event_id, h.format_ts(d.fire_at)
                        )
                    case EntityDecision():
                        entity_messages.append(self._store_entity_operation(db, d))
                    case StartSubOrchestration():
                        try:
                            self._create_child(db, d, row)
                            children.append(d.instance_id)
                        except InstanceAlreadyRunning as exc:
                            reason = f"Orchestrator function '{d.name}' failed: {exc}"
                            failed = HistoryMessage(
                                h.sub_failed(now, d.event_id, reason, ""), row.execution_id
                            )
                            rt.inbox.append((self.store.add_message(db, row.instance_id, failed), failed))
                            self._mark_ready(row.instance_id)
            self.store.upsert_instance(db, row)
        rt.history.extend(history_add)
        sent = [ev for ev in history_add if ev["EventType"] == h.EventType.EVENT_SENT]
        if sent and rt.session is not None:
            rt.session.absorb(sent)
        self._deliver_signals(entity_messages)
        for d in decisions:
            match d:
                case ScheduleActivity():
                    self._activity_queue.append(
                        ActivityWork(row.instance_id, row.execution_id, d.event_id, d.name, d.input)
                    )
                case CreateTimer():
                    heapq.heappush(
                        self._timers,
                        PendingTimer(
                            d.fire_at, row.instance_id, row.execution_id, d.event_id, h.format_ts(d.fire_at)
                        ),
                    )

    def _create_child(self, db: Any, d: StartSubOrchestration, parent: InstanceRow) -> None:
        self._create_instance(db, d.name, d.instance_id, d.input, parent.instance_id, d.event_id)

    def _store_entity_operation(self, db: Any, d: EntityDecision) -> EntityOutgoing:
        message = EntityOperation(d.request)
        return d.instance_id, self.store.add_message(db, d.instance_id, message), message

    def _send_signals(self, db: Any, signals: list[SignalEntity]) -> list[EntityOutgoing]:
        return [self._store_entity_operation(db, d) for d in signals]

    def _deliver_signals(self, sent: list[EntityOutgoing]) -> None:
        for target, mid, message in sent:
            self._entity_inbox(target).append((mid, message))
            self._mark_ready(target)

    def _continue_as_new(
        self,
        rt: Runtime,
        now: datetime,
        history_add: list[h.Event],
        consumed: list[int],
        input_json: str | None,
        signals: list[SignalEntity],
    ) -> None:
        row = rt.row
        row.execution_id = uuid.uuid4().hex
        row.input = input_json
        row.status = RuntimeStatus.RUNNING.value
        started = h.execution_started(
            now, row.name, input_json, row.instance_id, row.execution_id, row.parent_instance_id
        )
        message = HistoryMessage(started, row.execution_id)
        with self.store.transaction() as db:
            self.store.delete_messages(db, consumed)
            self.store.clear_history(db, row.instance_id)
            self.store.delete_work_of(db, row.instance_id)
            mid = self.store.add_message(db, row.instance_id, message)
            self.store.upsert_instance(db, row)
            sent = self._send_signals(db, signals)
        self._deliver_signals(sent)
        rt.history = []
        rt.session = None
        rt.walk = None
        rt.inbox.appendleft((mid, message))
        self._mark_ready(row.instance_id)
        log.info("instance %s (%s) continued as new", row.instance_id, row.name)

    def _finish(
        self,
        rt: Runtime,
        now: datetime,
        history_add: list[h.Event],
        consumed: list[int],
        *,
        output: Any = None,
        failed_with: str | None = None,
        signals: list[SignalEntity] | None = None,
    ) -> None:
        row = rt.row
        if failed_with is not None:
            row.status = RuntimeStatus.FAILED.value
            message = f"Orchestrator function '{row.name}' failed: {failed_with}"
            row.output = json.dumps(message)
            done_ev = h.event(
                h.EventType.EXECUTION_COMPLETED, now, OrchestrationStatus="Failed", Result=message
            )
        else:
            row.status = RuntimeStatus.COMPLETED.value
            row.output = json.dumps(output)
            done_ev = h.event(
                h.EventType.EXECUTION_COMPLETED, now, OrchestrationStatus="Completed", Result=row.output
            )
        history_add = [*history_add, h.orchestrator_completed(now), done_ev]
        with self.store.transaction() as db:
            self.store.delete_messages(db, consumed)
            self.store.append_history(db, row.instance_id, len(rt.history), history_add)
            self.store.delete_work_of(db, row.instance_id)
            self.store.upsert_instance(db, row)
            if failed_with is not None:
                parent = self._notify_parent(db, row, now, failed=True, reason=message, details=failed_with)
            else:
                parent = self._notify_parent(db, row, now, failed=False, result=row.output)
            sent = self._send_signals(db, signals or [])
        self._deliver_signals(sent)
        rt.history.extend(history_add)
        self._after_terminal(rt, parent)
        if failed_with is not None:
            log.warning(
                "instance %s (%s) failed: %s",
                row.instance_id,
                row.name,
                (failed_with.splitlines() or [""])[0],
            )
        else:
            log.info("instance %s (%s) completed", row.instance_id, row.name)

    def _notify_parent(
        self,
        db: Any,
        row: InstanceRow,
        now: datetime,
        *,
        failed: bool,
        result: str | None = None,
        reason: str = "",
        details: str = "",
    ) -> Outgoing | None:
        if not row.parent_instance_id or row.parent_task_id is None:
            return None
        parent = self.store.get_instance(row.parent_instance_id)
        if parent is None or parent.status in TERMINAL:
            return None
        if failed:
            ev = h.sub_failed(now, row.parent_task_id, reason, details)
        else:
            ev = h.sub_completed(now, row.parent_task_id, result)
        message = HistoryMessage(ev, parent.execution_id)
        return row.parent_instance_id, self.store.add_message(db, row.parent_instance_id, message), message

    def _after_terminal(self, rt: Runtime, parent: Outgoing | None) -> None:
        row = rt.row
        rt.session = None
        rt.walk = None
        self._runtimes.pop(row.instance_id, None)
        if parent is not None:
            parent_id, mid, message = parent
            prt = self._runtime(parent_id)
            if prt is not None:
                prt.inbox.append((mid, message))
                self._mark_ready(parent_id)
        state = instance_state(row)
        for future in self._terminal_waiters.pop(row.instance_id, []):
            if not future.done():
                future.set_result(state)

    # ------------------------------------------------------------------ entities
    def _entity_inbox(self, entity_id: str) -> deque[tuple[int, EntityOperation]]:
        return self._entity_inboxes.setdefault(entity_id, deque())

    def _run_entity_batch(self, entity_id: str) -> None:
        inbox = self._entity_inboxes.get(entity_id)
        if not inbox:
            return
        batch = [inbox.popleft() for _ in range(min(len(inbox), 100))]
        if inbox:
            self._mark_ready(entity_id)
        name = entity_name_of(entity_id)
        key = entity_id[len(name) + 2 :]
        requests = [operation.request for _, operation in batch]
        exists, state = self.store.get_entity(entity_id)
        results, new_exists, new_state = run_entity_batch(
            self._entity_functions.get(name.lower()), name, key, exists, state, requests
        )
        now = self.clock.now()
        deliveries: list[Outgoing] = []
        with self.store.transaction() as db:
            self.store.delete_messages(db, [mid for mid, _ in batch])
            self.store.put_entity(db, entity_id, new_exists, new_state, now.timestamp())
            for request, result in zip(requests, results, strict=True):
                if result.get("isError"):
                    log.warning(
                        "entity operation %s %s failed: %s",
                        entity_id,
                        request.op,
                        result.get("result"),
                    )
                parent = request.parent
                if request.signal or not parent:
                    continue
                parent_row = self.store.get_instance(parent)
                if parent_row is None or parent_row.status in TERMINAL:
                    continue
                response: dict[str, Any] = {"result": result.get("result")}
                if result.get("isError"):
                    response["exceptionType"] = "Exception"
                ev = h.event_raised(now, request.id, json.dumps(response))
                response_message = HistoryMessage(ev, request.parent_execution)
                mid = self.store.add_message(db, parent, response_message)
                deliveries.append((parent, mid, response_message))
        for parent_id, mid, delivery in deliveries:
            prt = self._runtime(parent_id)
            if prt is not None:
                prt.inbox.append((mid, delivery))
                self._mark_ready(parent_id)
        log.debug("entity %s ran %d operation(s)", entity_id, len(batch))
