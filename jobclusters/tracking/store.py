"""The run store other modules call; `TableRunStore` is the Table storage implementation."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from pydantic import BaseModel

from jobclusters.tracking.models import (
    Page,
    RunRecord,
    RunState,
    RunSummary,
    TaskRunRecord,
)


class WriteResult(BaseModel):
    """`applied` is False when the stored record was already ahead (the write was stale)."""

    applied: bool
    state: RunState


class RunStore(Protocol):
    def record_run(self, record: RunRecord) -> WriteResult: ...

    def get_run(self, run_id: str) -> RunRecord | None: ...

    def record_task_run(self, record: TaskRunRecord) -> WriteResult: ...

    def record_task_runs(self, run_id: str, records: Sequence[TaskRunRecord]) -> int: ...

    def get_run_with_tasks(self, run_id: str) -> tuple[RunRecord | None, list[TaskRunRecord]]: ...

    def get_task_runs(self, run_id: str, records: Sequence[TaskRunRecord]) -> list[TaskRunRecord]: ...

    def list_runs_for_job(
        self, job_id: str, *, page_size: int = 50, token: str | None = None
    ) -> Page[RunSummary]: ...

    def list_runs(
        self,
        *,
        since: datetime,
        until: datetime,
        states: Sequence[RunState] | None = None,
        page_size: int = 50,
        token: str | None = None,
    ) -> Page[RunSummary]: ...
