from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from devhost.triggers.state import TimerStatus, TriggerState
from tests.eventually import eventually_async
from tests.integration.apps.triggers_support import harness

APP = harness.APPS / "triggers_app"


def test_every_second_schedule_fires_once_per_second_on_whole_seconds(tmp_path: Path) -> None:
    async def scenario() -> list[datetime]:
        async with harness.running({"ticker"}, tmp_path, {"TIMER_SCHEDULE": "* * * * * *"}) as module:
            await eventually_async(lambda: len(module.EVENTS) >= 3, timeout=6, what="three ticks")
        return [datetime.fromisoformat(e["status"]["Next"]) for _, e in module.EVENTS]

    nexts = asyncio.run(scenario())
    assert all(n.microsecond == 0 for n in nexts)
    gaps = [b - a for a, b in zip(nexts, nexts[1:], strict=False)]
    assert gaps == [timedelta(seconds=1)] * (len(nexts) - 1)


def test_missed_occurrence_fires_at_start_with_past_due_when_the_monitor_is_on(tmp_path: Path) -> None:
    missed = datetime.now(UTC) - timedelta(minutes=5)
    state = TriggerState(tmp_path)
    state.save_timer_status("ticker", TimerStatus(last=None, next=missed.isoformat(), last_updated=None))
    state.close()

    async def scenario() -> list[dict[str, object]]:
        async with harness.running({"ticker"}, tmp_path, {"TIMER_SCHEDULE": "0 0 * * * *"}) as module:
            await eventually_async(lambda: module.EVENTS, timeout=5, what="past-due run")
        return [e for _, e in module.EVENTS]

    [run] = asyncio.run(scenario())
    assert run["past_due"] is True
    status = TriggerState(tmp_path).timer_status("ticker")
    assert status is not None and status.last == missed.isoformat()
    assert status.next is not None and datetime.fromisoformat(status.next) > datetime.now(UTC)


def test_run_on_startup_fires_immediately_without_past_due(tmp_path: Path) -> None:
    async def scenario() -> list[dict[str, object]]:
        async with harness.running({"yearly_on_startup"}, tmp_path, {}) as module:
            await eventually_async(lambda: module.EVENTS, timeout=5, what="startup run")
        return [e for _, e in module.EVENTS]

    assert asyncio.run(scenario()) == [{"past_due": False}]


def test_a_bad_schedule_leaves_the_function_out_without_stopping_the_host(tmp_path: Path) -> None:
    async def scenario() -> int:
        _, functions = harness.load_app(APP)
        listeners = await harness.start(
            harness.services(tmp_path, {"TIMER_SCHEDULE": "* * * *"}), functions,
            {"ticker", "yearly_on_startup"},
        )
        await harness.stop(listeners)
        return len(listeners)

    assert asyncio.run(scenario()) == 1


def test_a_run_longer_than_the_interval_never_overlaps_the_next(tmp_path: Path) -> None:
    async def scenario() -> list[tuple[float, float]]:
        async with harness.running({"slow_ticker"}, tmp_path, {"SLOW_SCHEDULE": "* * * * * *"}) as module:
            await eventually_async(lambda: len(module.EVENTS) >= 2, timeout=8, what="two slow runs")
        return [span for _, span in module.EVENTS]

    spans = asyncio.run(scenario())
    assert all(later[0] >= earlier[1] for earlier, later in zip(spans, spans[1:], strict=False))
