"""What every listener needs: the function's trigger binding, shared options, and one-line error text."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

from devhost.listeners import FunctionObject, HostServices
from devhost.triggers.expressions import resolve_settings
from devhost.triggers.options import Extensions, ListenerTuning
from devhost.triggers.state import TriggerState


@dataclass(frozen=True)
class ListenerContext:
    services: HostServices
    extensions: Extensions
    tuning: ListenerTuning
    state: TriggerState


def trigger_binding(function: FunctionObject) -> dict[str, Any]:
    raw = function.get_trigger().get_dict_repr()
    return {k: v for k, v in raw.items() if k != "direction"}


class TriggerListener:
    """A listener for one function: its name, binding and argument, and the `where` its errors start with."""

    def __init__(self, ctx: ListenerContext, function: FunctionObject, trigger_type: str) -> None:
        self.ctx = ctx
        self.function = function
        self.name: str = function.get_function_name()
        self.binding = trigger_binding(function)
        self.arg_name: str = self.binding["name"]
        self.where = f"function {self.name}: {trigger_type}"

    def binding_setting(self, key: str) -> str:
        """A binding property with its `%Name%` app settings filled in; empty when the binding lacks it."""
        raw = str(self.binding.get(key) or "")
        return resolve_settings(raw, self.ctx.services.settings, where=self.where)

    @staticmethod
    async def cancel_loop(task: asyncio.Task[Any] | None) -> None:
        """Cancel the listener's loop and wait until it has ended, whatever it ends with. The cancel is
        sent again while the loop runs on: code that swallows one (user code, or `asyncio.wait_for` on
        Python 3.11 when its awaitable completes at that instant) would otherwise make stop hang."""
        if task is None:
            return
        while not task.done():
            task.cancel()
            await asyncio.wait({task}, timeout=_RECANCEL_SECONDS)
        with contextlib.suppress(BaseException):
            task.result()


# Longest message `one_line` gives, ellipsis included.
ONE_LINE_MAX_CHARS = 500
# How long `cancel_loop` waits for a canceled loop before it cancels it again.
_RECANCEL_SECONDS = 1.0


def one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or "(no message)"
    if len(text) > ONE_LINE_MAX_CHARS:
        text = text[: ONE_LINE_MAX_CHARS - 3] + "..."
    return f"{type(exc).__name__}: {text}"


class TaskGroup:
    """Background tasks of one listener, all cancelled on stop. A task that fails unexpectedly (storage
    down while settling a message, say) is logged in one line and never takes the listener with it."""

    def __init__(self, log: logging.Logger, label: str) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self._log = log
        self._label = label

    async def _guarded(self, coro: Coroutine[Any, Any, Any]) -> Any:
        try:
            return await coro
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._log.error("%s: %s", self._label, one_line(exc))
            return None

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(self._guarded(coro))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def __len__(self) -> int:
        return len(self._tasks)

    async def drain(self, timeout: float) -> None:
        """Let running work finish for up to `timeout` seconds, then cancel what is left."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout)
        await self.cancel()

    async def cancel(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task


async def wait_for_event(event: asyncio.Event, timeout: float) -> bool:
    """Whether the event was set within `timeout` seconds. Not `asyncio.wait_for`: on Python 3.11 it
    returns the result instead of raising when a cancel lands as the event is set, and a listener's loop
    then never stops (a test of the Service Bus listener hung so)."""
    if event.is_set():
        return True
    waiter = asyncio.ensure_future(event.wait())
    try:
        done, _ = await asyncio.wait({waiter}, timeout=max(0.0, timeout))
    finally:
        waiter.cancel()
    return bool(done)
