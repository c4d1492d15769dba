"""Deterministic ids: every side effect of a run derives its id from the run id, the task key, the repair
number and the attempt, so a replayed orchestrator or a retried activity names the same thing again."""

from __future__ import annotations

import hashlib
import re

MAX_INSTANCE_ID = 100
MAX_BATCH_ID = 64
_INSTANCE_SAFE = re.compile(r"^[A-Za-z0-9_.\-]{1,40}$")
_BATCH_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def _digest(text: str, size: int) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:size]


def _key_part(task_key: str) -> str:
    """Task keys are free text (ADF names have spaces); instance ids must not carry '/', '#', '?' or '\\'."""
    return task_key if _INSTANCE_SAFE.match(task_key) else "t" + _digest(task_key, 16)


def _bounded(instance_id: str) -> str:
    if len(instance_id) <= MAX_INSTANCE_ID:
        return instance_id
    return f"{instance_id[: MAX_INSTANCE_ID - 25]}~{_digest(instance_id, 24)}"


def task_instance_id(run_id: str, task_key: str, repair_number: int = 0) -> str:
    """The `run_task` sub-orchestration of one task in one run (repair n gets its own)."""
    return _bounded(f"{run_id}:{_key_part(task_key)}:r{repair_number}")


def attempt_instance_id(task_instance: str, attempt: int) -> str:
    """The `cluster_run` / `batch_fanout` sub-orchestration of one attempt of a task."""
    return _bounded(f"{task_instance}:a{attempt}")


def batch_id(*parts: str) -> str:
    """A Batch job or pool id (1-64 of letters, digits, '-', '_') that is stable for the same parts."""
    raw = "-".join(parts)
    safe = _BATCH_UNSAFE.sub("_", raw)
    if len(safe) <= MAX_BATCH_ID and safe == raw:
        return safe
    return f"{safe[: MAX_BATCH_ID - 17]}-{_digest(raw, 16)}"


def cluster_task_key(task_key: str) -> str:
    """A cluster request's task key (`^[\\w-]+$`, at most 100) for any spec task key."""
    safe = re.sub(r"[^\w\-]", "_", task_key)
    if safe == task_key and len(safe) <= 100:
        return safe
    return f"{safe[:80]}_{_digest(task_key, 12)}"
