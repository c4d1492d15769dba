"""Values that differ per attempt of a task: `{{task_retry_count}}` (0 for the first attempt, then 1, 2,
...) and `{{task.execution_count}}` (1, 2, 3, ...: the attempts of this run or repair). The run renders
every other value once when the task starts and keeps these literally (`rendering.template_context`);
each attempt renders them just before it runs."""

from __future__ import annotations

import re
from typing import Any

from jobclusters.spec.model import Task

RETRY_COUNT = "{{task_retry_count}}"
EXECUTION_COUNT = "{{task.execution_count}}"
_RETRY_COUNT = re.compile(r"\{\{\s*task_retry_count\s*\}\}")
_EXECUTION_COUNT = re.compile(r"\{\{\s*task\.execution_count\s*\}\}")


def _render(value: Any, retry_count: int) -> Any:
    if isinstance(value, str):
        return _EXECUTION_COUNT.sub(str(retry_count + 1), _RETRY_COUNT.sub(str(retry_count), value))
    if isinstance(value, dict):
        return {k: _render(v, retry_count) for k, v in value.items()}
    if isinstance(value, list):
        return [_render(v, retry_count) for v in value]
    return value


def render_attempt(task: Task, retry_count: int) -> Task:
    data = task.model_dump(mode="json")
    for field in ("payload", "parameters", "environment"):
        if data.get(field) is not None:
            data[field] = _render(data[field], retry_count)
    return Task.model_validate(data)
