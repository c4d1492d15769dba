"""The submit handshake with a cancel request that may arrive at any moment.

A cancel marks the run, then cancels every remote handle registered for it. A submit therefore checks the
marker, submits, registers the handle, and checks again: a cancel that landed before the registration did
not see the handle, so the submitter undoes its own work. Either the canceller or the submitter reaches
every remote run; the marker is always read fresh (a cached "not canceled" could be stale).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

H = TypeVar("H")


class CancelMarkers(Protocol):
    def cancel_requested(self, run_id: str, *, fresh: bool = False) -> str | None: ...

    def register_handle(self, run_id: str, attempt_id: str, kind: str, handle: dict[str, Any]) -> None: ...


@dataclass(frozen=True)
class Submission(Generic[H]):
    """`submitted` is None when the run was canceled before anything was submitted."""

    submitted: H | None
    canceled: bool


def submit_unless_canceled(
    control: CancelMarkers,
    *,
    control_id: str,
    attempt_id: str,
    kind: str,
    submit: Callable[[], H],
    handle_of: Callable[[H], dict[str, Any]],
    cancel: Callable[[H], None],
) -> Submission[H]:
    """`submit` may raise: nothing was registered then, and the caller reports the error."""
    if control.cancel_requested(control_id, fresh=True):
        return Submission(None, canceled=True)
    submitted = submit()
    control.register_handle(control_id, attempt_id, kind, handle_of(submitted))
    if control.cancel_requested(control_id, fresh=True):
        cancel(submitted)
        return Submission(submitted, canceled=True)
    return Submission(submitted, canceled=False)
