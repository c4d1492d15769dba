"""Timer trigger: NCRONTAB or TimeSpan schedules, `runOnStartup`, `useMonitor` past-due detection.

One invocation at a time per function: the next occurrence is computed after the previous run ends, so a
run longer than the interval skips the occurrences it overlapped (the host does the same). With the monitor
on, the schedule status (last, next) is saved after each step; at start an occurrence missed while the
host was down fires at once with `past_due` true.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from azure.functions.timer import TimerRequest

from devhost.listeners import FunctionObject
from devhost.triggers.common import ListenerContext, TriggerListener, one_line
from devhost.triggers.ncrontab import Schedule, parse_schedule, shortest_interval
from devhost.triggers.outputs import prepare_outputs
from devhost.triggers.state import TimerStatus

TIME_ZONE_SETTINGS = ("WEBSITE_TIME_ZONE", "TZ")


def schedule_zone(settings: Mapping[str, str]) -> tzinfo:
    """The time zone schedules are read in: WEBSITE_TIME_ZONE (IANA names, as on Linux plans), else UTC."""
    for name in TIME_ZONE_SETTINGS:
        value = settings.get(name)
        if value:
            try:
                return ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise ValueError(f"setting {name}: {value!r} is not an IANA time zone name") from exc
    return UTC


class TimerTriggerListener(TriggerListener):
    def __init__(self, ctx: ListenerContext, function: FunctionObject) -> None:
        super().__init__(ctx, function, "timerTrigger")
        expression = self.binding_setting("schedule")
        try:
            self.schedule: Schedule = parse_schedule(expression)
        except ValueError as exc:
            raise ValueError(f"{self.where}: {exc}") from exc
        self.zone = schedule_zone(ctx.services.settings)
        self.run_on_startup = bool(self.binding.get("runOnStartup") or False)
        use_monitor = self.binding.get("useMonitor")
        if use_monitor is None:
            use_monitor = shortest_interval(self.schedule, self._now()) >= timedelta(minutes=1)
        self.use_monitor = bool(use_monitor)
        self._task: asyncio.Task[None] | None = None

    def _now(self) -> datetime:
        return datetime.now(self.zone)

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run_forever())
        self.ctx.services.log.info(
            "timer trigger %s: schedule %s (monitor %s)", self.name, self.schedule.expression,
            "on" if self.use_monitor else "off",
        )

    async def stop(self) -> None:
        await self.cancel_loop(self._task)

    def _save(self, last: datetime | None, upcoming: datetime) -> None:
        if self.use_monitor:
            self.ctx.state.save_timer_status(self.name, TimerStatus(
                last=last.isoformat() if last else None, next=upcoming.isoformat(),
                last_updated=datetime.now(UTC).isoformat(),
            ))

    async def _run_forever(self) -> None:
        last: datetime | None = None
        saved = self.ctx.state.timer_status(self.name) if self.use_monitor else None
        if saved is not None and saved.last:
            last = datetime.fromisoformat(saved.last)
        now = self._now()
        if saved is not None and saved.next and datetime.fromisoformat(saved.next) < now:
            due = datetime.fromisoformat(saved.next)
            self.ctx.services.log.info(
                "timer trigger %s: occurrence %s is past due", self.name, due.isoformat()
            )
            await self._fire(due, last, past_due=True)
            last = due
        elif self.run_on_startup:
            await self._fire(now, last, past_due=False)
        anchor = self._now()
        while True:
            upcoming = self.schedule.next_after(anchor)
            self._save(last, upcoming)
            delay = (upcoming - self._now()).total_seconds()
            if delay > 0:
                await asyncio.sleep(delay)
            await self._fire(upcoming, last, past_due=False)
            last = upcoming
            anchor = max(self._now(), upcoming)

    async def _fire(self, scheduled: datetime, last: datetime | None, *, past_due: bool) -> None:
        upcoming = self.schedule.next_after(max(self._now(), scheduled))
        request = TimerRequest(
            past_due=past_due,
            schedule_status={
                "Last": last.isoformat() if last else None,
                "Next": upcoming.isoformat(),
                "LastUpdated": datetime.now(UTC).isoformat(),
            },
            schedule={"AdjustForDST": True},
        )
        try:
            outputs = prepare_outputs(
                self.function, self.ctx.services.settings, state_dir=self.ctx.services.state_dir,
                binding_data={"ScheduledTime": scheduled.isoformat()}, queues=self.ctx.extensions.queues,
            )
            result = await self.ctx.services.invoke(self.function, {self.arg_name: request, **outputs.args})
            await outputs.flush(result)
        except Exception as exc:
            self.ctx.services.log.warning(
                "timer trigger %s: run scheduled for %s failed: %s",
                self.name, scheduled.isoformat(), one_line(exc),
            )
        self._save(scheduled, upcoming)
