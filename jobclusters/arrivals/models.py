"""What the dispatcher and its activities exchange (durable JSON, so pydantic at both ends)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from jobclusters.run_request import RunRequest

RuleKind = Literal["file_arrival", "storage_event"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PendingGroup(_Model):
    """The arrivals pending under one rule of a job, with that rule's wait settings."""

    rule: int
    kind: RuleKind
    count: int = Field(ge=0)
    first_arrival: datetime
    last_arrival: datetime
    min_time_between_triggers_seconds: int = 0
    wait_after_last_change_seconds: int = 0


class PendingInput(_Model):
    job_id: str


class PendingResult(_Model):
    """`registered` is False once the job is deleted: its dispatcher ends."""

    registered: bool
    max_concurrent_runs: int | None = Field(default=1, description="None: no limit")
    groups: list[PendingGroup] = Field(default_factory=list)


class ClaimInput(_Model):
    """`token` is replay-safe in the orchestration, so a retried claim returns the same blobs, and unique
    per claim across hosts (their dispatchers share an instance id, not a task hub)."""

    job_id: str
    rule: int
    token: str
    limit: int = Field(ge=1)


class SignedRunRequest(_Model):
    """A run the dispatcher starts, signed like every trigger's (`jobclusters.run_admission`): `run_job`
    refuses requests no trigger made, and the key is a setting only an activity may read."""

    request: RunRequest
    signature: str

    def run_job_input(self) -> dict[str, Any]:
        return {"request": self.request.model_dump(mode="json"), "signature": self.signature}


class ClaimResult(_Model):
    runs: list[SignedRunRequest] = Field(default_factory=list)


class DispatchState(_Model):
    """The dispatcher's input across continue_as_new: when each file-arrival rule last started a run."""

    job_id: str
    generation: int = 0
    last_triggers: dict[int, datetime] = Field(default_factory=dict)


DISPATCHER = "dispatch_arrivals"
ARRIVAL_EVENT = "arrival"


def dispatcher_instance_id(job_id: str) -> str:
    """One dispatcher per job, in every task hub: its instance id is the job's."""
    return f"arrivals-{job_id}"
