"""The rules of an ADF IfCondition / Switch at run time, pure: which branch the selector picks, and what
the join (the activity under its own name) ends with. The importer's expansion is in
importers/adf_branches.py."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jobclusters.spec.model import BranchPayload, JoinPayload, TaskState

#: the selector's key below its If/Switch: `check/branch`
SELECTOR = "branch"
_FAILED = frozenset({TaskState.FAILED, TaskState.TIMEDOUT})


def choose_branch(payload: BranchPayload, value: Any) -> str:
    """The branch for the rendered `expression` / `on`: "true"/"false", a case value, or "default".
    An If whose expression is not a boolean raises ValueError, as ADF fails it."""
    if payload.mode == "if":
        if isinstance(value, bool):
            return "true" if value else "false"
        text = str(value).strip().lower()
        if text in ("true", "false"):
            return text
        raise ValueError(f"an IfCondition expression must give a boolean, got {value!r}")
    text = value if isinstance(value, str) else str(value)
    return text if text in payload.cases else "default"


def join_state(
    payload: JoinPayload, states: Mapping[str, TaskState], messages: Mapping[str, str | None]
) -> tuple[TaskState, str | None]:
    """Failed (with the first failure's message) when the selector or an activity of the branch taken
    failed, else Succeeded."""
    for key in [payload.selector, *payload.members]:
        if states.get(key) in _FAILED:
            inner = messages.get(key)
            return TaskState.FAILED, f"{key} failed" + (f": {inner}" if inner else "")
    return TaskState.SUCCESS, None
