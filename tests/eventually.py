"""Polling for tests: wait until something observable holds, up to a timeout, then fail saying what.

One helper instead of a loop per test file; the check runs at least once and once more at the deadline,
so a slow machine fails only when the condition truly never held.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def eventually(
    check: Callable[[], T | None], *, timeout: float = 10.0, interval: float = 0.02, what: str = "condition"
) -> T:
    """The first truthy value of `check()`, polled every `interval` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


async def eventually_async(
    check: Callable[[], Any], *, timeout: float = 10.0, interval: float = 0.02, what: str = "condition"
) -> Any:
    """As `eventually`, without blocking the event loop; `check` may be a plain or an async function."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(interval)
