"""A listener's loop stops when asked, even when the cancel lands as the event it waits for is set: on
Python 3.11 `asyncio.wait_for` swallows that cancel, and a Service Bus listener's stop once hung a test run
for good."""

from __future__ import annotations

import asyncio

import pytest

from devhost.triggers.common import TriggerListener, wait_for_event


def test_a_cancel_that_lands_as_the_event_is_set_still_cancels_the_wait() -> None:
    async def scenario() -> None:
        event = asyncio.Event()
        waiting = asyncio.ensure_future(wait_for_event(event, 10))
        await asyncio.sleep(0)  # it is waiting now
        event.set()
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting

    asyncio.run(scenario())


def test_waiting_tells_a_set_event_from_a_timeout() -> None:
    async def scenario() -> tuple[bool, bool, bool]:
        event = asyncio.Event()
        timed_out = await wait_for_event(event, 0.01)
        asyncio.get_running_loop().call_soon(event.set)
        woke = await wait_for_event(event, 10)
        return timed_out, woke, await wait_for_event(event, 0)

    assert asyncio.run(scenario()) == (False, True, True)


def test_stopping_a_loop_that_swallows_a_cancel_cancels_it_again_until_it_ends() -> None:
    swallowed: list[int] = []

    async def stubborn() -> None:
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                if not swallowed:
                    swallowed.append(1)  # the first cancel is lost, as wait_for can lose one
                    continue
                raise

    async def scenario() -> asyncio.Task[None]:
        task = asyncio.ensure_future(stubborn())
        await asyncio.sleep(0)
        await asyncio.wait_for(TriggerListener.cancel_loop(task), timeout=10)
        return task

    task = asyncio.run(scenario())
    assert swallowed == [1] and task.cancelled()
