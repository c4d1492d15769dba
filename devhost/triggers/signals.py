"""In-process wake-ups: when devhost itself writes a blob or a queue message (output bindings), the
listener watching that container or queue looks at once instead of waiting for its next poll."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable

Waker = Callable[[str], object]  # receives the blob name or message detail that changed

_wakers: dict[tuple[str, str, str], set[Waker]] = {}
_lock = threading.Lock()


def subscribe(kind: str, account: str, entity: str, waker: Waker) -> Callable[[], None]:
    key = (kind, account, entity)
    with _lock:
        _wakers.setdefault(key, set()).add(waker)

    def unsubscribe() -> None:
        with _lock:
            _wakers.get(key, set()).discard(waker)

    return unsubscribe


def notify(kind: str, account: str, entity: str, detail: str = "") -> None:
    with _lock:
        wakers = list(_wakers.get((kind, account, entity), ()))
    for waker in wakers:
        with contextlib.suppress(Exception):
            waker(detail)
