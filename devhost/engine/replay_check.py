"""The check mode: compare a live session's episode with the SDK's own full replay of the same history.

A difference means the orchestrator is not deterministic (or the session diverged from the SDK), which the
extension reports as non-determinism, so the instance fails with that message.
"""

from __future__ import annotations

import json
from typing import Any

from devhost.engine import history as h
from devhost.engine.session import StepResult, full_replay, request_body
from devhost.engine.shim import NonDeterminismError
from devhost.engine.store import InstanceRow

# Characters of each side of a non-determinism diff quoted in the error.
DIFF_EXCERPT_CHARS = 500


def _strip_cancel(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_cancel(v) for k, v in value.items() if k != "isCanceled"}
    if isinstance(value, list):
        return [_strip_cancel(v) for v in value]
    return value


def check_against_full_replay(
    handle: Any,
    row: InstanceRow,
    history: list[h.Event],
    result: StepResult,
    session_actions: list[dict[str, Any]],
) -> None:
    """Raise NonDeterminismError when the full replay of `history` disagrees with the session's `result`."""
    body = request_body(row.instance_id, history, row.input, row.parent_instance_id)
    reference = full_replay(handle, body)
    mine = {**result.comparable(), "actions": _strip_cancel(session_actions)}
    theirs = {**reference.comparable(), "actions": _strip_cancel(reference.new_actions)}
    if reference.error is not None and not reference.new_actions:
        mine["actions"] = theirs["actions"] = None  # the SDK failed before returning any state
    if mine != theirs:
        diff = [k for k in mine if mine[k] != theirs[k]]
        raise NonDeterminismError(
            f"Non-Deterministic workflow detected: replaying the whole history gave a different {diff} "
            f"than the live session (session: {json.dumps(mine, default=str)[:DIFF_EXCERPT_CHARS]}, "
            f"replay: {json.dumps(theirs, default=str)[:DIFF_EXCERPT_CHARS]})"
        )
