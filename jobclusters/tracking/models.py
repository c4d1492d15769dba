"""What a run record holds: the answers a user wants after a run, in a shape both stores and APIs share.

States move forward only. `STATE_RANK` orders them; a write whose (generation, rank) is not ahead of
the stored one is ignored, so a late RUNNING never overwrites SUCCESS. `generation` grows when a run is
repaired, which is the one legitimate way back from a terminal state.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, computed_field

from jobclusters.cost.models import Cost, RunCost


class RunState(StrEnum):
    PENDING = "PENDING"
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    TERMINATING = "TERMINATING"
    SUCCESS = "SUCCESS"
    SUCCESS_WITH_FAILURES = "SUCCESS_WITH_FAILURES"
    FAILED = "FAILED"
    TIMEDOUT = "TIMEDOUT"
    CANCELED = "CANCELED"
    SKIPPED = "SKIPPED"
    EXCLUDED = "EXCLUDED"
    UPSTREAM_FAILED = "UPSTREAM_FAILED"

    @property
    def terminal(self) -> bool:
        return STATE_RANK[self] == TERMINAL_RANK


TERMINAL_RANK = 4
STATE_RANK: dict[RunState, int] = {
    RunState.PENDING: 0,
    RunState.QUEUED: 1,
    RunState.RUNNING: 2,
    RunState.TERMINATING: 3,
    **{
        s: TERMINAL_RANK
        for s in (
            RunState.SUCCESS,
            RunState.SUCCESS_WITH_FAILURES,
            RunState.FAILED,
            RunState.TIMEDOUT,
            RunState.CANCELED,
            RunState.SKIPPED,
            RunState.EXCLUDED,
            RunState.UPSTREAM_FAILED,
        )
    },
}


def advances(new_generation: int, new_state: RunState, old_generation: int, old_state: RunState) -> bool:
    """Whether a write may replace the stored state: a newer generation, or a strictly later state, or
    more detail for the same non-terminal state."""
    if new_generation != old_generation:
        return new_generation > old_generation
    new_rank, old_rank = STATE_RANK[new_state], STATE_RANK[old_state]
    if new_rank != old_rank:
        return new_rank > old_rank
    return new_rank != TERMINAL_RANK


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Trigger(_Record):
    kind: Literal[
        "http", "blob", "servicebus", "schedule", "cli", "manual", "repair", "api", "file_arrival", "other",
        "run_job"
    ]
    source: str | None = Field(default=None, description="blob path, topic/subscription, cron, URL route...")
    actor: str | None = Field(default=None, description="who started it: user/principal, or the trigger name")
    event_id: str | None = None


class ComputeInfo(_Record):
    kind: Literal["batch", "databricks", "hdinsight", "synapse", "local"]
    pool_or_cluster: str | None = None
    node_size: str | None = None
    node_count: int | None = None
    spot: bool | None = None
    mode: str | None = Field(default=None, description="onDemand, existing, autoPool, job cluster, ...")
    nodes_min: int | None = Field(default=None, description="node range for pricing (driver included)")
    nodes_max: int | None = None
    driver_node_size: str | None = None
    spot_fallback: bool | None = None
    node_seconds: float | None = Field(default=None, description="node time the polls saw (measured)")
    observed_seconds: float | None = Field(default=None, description="first poll to last poll")
    nodes_seen_min: int | None = None
    nodes_seen_max: int | None = None
    nodes_last: int | None = None


class Links(_Record):
    logs: dict[str, str] = Field(default_factory=dict)
    outputs: dict[str, str] = Field(default_factory=dict)


class _Timed(_Record):
    """A record with a start and an end: the duration users ask for is derived, never stored apart."""

    start_time: datetime | None = None
    end_time: datetime | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def duration_seconds(self) -> float | None:
        if self.start_time is None or self.end_time is None:
            return None
        return (self.end_time - self.start_time).total_seconds()


class RunRecord(_Timed):
    run_id: str
    job_id: str
    state: RunState
    generation: int = 0
    created_at: datetime
    trigger: Trigger | None = None
    parameters: dict[str, Any] = Field(default_factory=dict)
    secure_input: bool = False
    attempts: int = 1
    compute: list[ComputeInfo] = Field(default_factory=list)
    error_message: str | None = None
    links: Links = Field(default_factory=Links)
    estimated_cost: float | None = Field(default=None, description="filled by cost reporting, later")
    cost_currency: str | None = None
    cost: RunCost | None = Field(default=None, description="tasks' costs plus overhead lines (once ended)")
    tags: dict[str, str] = Field(default_factory=dict, description="the job's tags (costs by tag)")


class TaskRunRecord(_Timed):
    run_id: str
    task_key: str
    attempt: int = 1
    state: RunState
    generation: int = 0
    parameters: dict[str, Any] = Field(default_factory=dict)
    secure_input: bool = False
    output: Any = None
    secure_output: bool = False
    exit_code: int | None = None
    error_message: str | None = None
    queue_seconds: float | None = Field(
        default=None, description="submit to the work's own start (queue, pool or cluster start)"
    )
    compute: ComputeInfo | None = None
    links: Links = Field(default_factory=Links)
    external_id: str | None = Field(default=None, description="Batch job/task id, Databricks run id, Livy id")
    estimated_cost: float | None = None
    cost: Cost | None = Field(default=None, description="what this attempt used, priced (once ended)")
    child_run_id: str | None = Field(default=None, description="the run a run_job / ExecutePipeline started")


class RunSummary(_Record):
    """An index row: enough to list runs without reading each run."""

    run_id: str
    job_id: str
    state: RunState
    created_at: datetime
    start_time: datetime | None = None
    end_time: datetime | None = None
    trigger_kind: str | None = None
    error_message: str | None = None
    repair_count: int = Field(default=0, description="repairs so far (the run's generation)")
    estimated_cost: float | None = None
    cost_currency: str | None = None
    cost_by_compute: dict[str, float] = Field(default_factory=dict)
    tags: dict[str, str] = Field(default_factory=dict)


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    continuation_token: str | None = None
