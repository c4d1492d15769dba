"""A fixed set of daemon worker threads for sync activity functions.

`concurrent.futures.ThreadPoolExecutor` joins its threads at interpreter exit, so one long activity would keep
a stopped host (Ctrl+C, the end of `orchestrate`) alive until it returns. Daemon threads let the process exit;
the unfinished activity is still recorded as outstanding and runs again at the next start (at-least-once).
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable
from typing import Any

_STOP = object()


class DaemonPool:
    def __init__(self, workers: int, name: str) -> None:
        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._work, name=f"{name}-{i}", daemon=True)
            for i in range(max(1, workers))
        ]
        for thread in self._threads:
            thread.start()

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is _STOP:
                return
            loop, future, fn = job
            try:
                result = fn()
            except BaseException as exc:  # handed to the awaiting coroutine, never lost in the thread
                _settle(loop, future, None, exc)
            else:
                _settle(loop, future, result, None)

    def run(self, fn: Callable[[], Any]) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._jobs.put((loop, future, fn))
        return future

    def close(self) -> None:
        for _ in self._threads:
            self._jobs.put(_STOP)


def _settle(
    loop: asyncio.AbstractEventLoop, future: asyncio.Future[Any], result: Any, exc: BaseException | None
) -> None:
    def apply() -> None:
        if future.done():
            return
        if exc is not None:
            future.set_exception(exc)
        else:
            future.set_result(result)

    # A closed loop means the engine stopped while this activity ran: its result is dropped on purpose.
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(apply)
