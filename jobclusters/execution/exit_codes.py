"""The one exit code a task shows wherever its outcome is shown (CLI, API, Table rows)."""

from __future__ import annotations

from typing import Any

from jobclusters.spec.model import TaskState


def fanout_exit_code(state: TaskState, failed_tasks: list[dict[str, Any]], inputs: int) -> int | None:
    """A fan-out's: its first failed input's, 0 when every input succeeded, None when nothing ran to an
    exit (no inputs, a canceled or refused attempt) or Batch gave none (a task that never started)."""
    if failed_tasks:
        code = failed_tasks[0].get("exit_code")
        return int(code) if code is not None else None
    if state == TaskState.SUCCESS and inputs > 0:
        return 0
    return None
