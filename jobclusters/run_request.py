"""What a trigger hands the `run_job` orchestrator, and what the orchestrator shows while it runs.

Triggers, the HTTP API and the CLI build a `RunRequest`; `run_job` is started with it as input and with
`run_id` as its instance id, so an event that arrives twice derives the same id and starts one run.
Everything here travels through orchestration payloads: no secret values, only references.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from jobclusters.failed_inputs import FailedInputs, InputSelection
from jobclusters.spec import Job, Problem, RunResult, TaskState

RUN_JOB_ORCHESTRATOR = "run_job"
CANCEL_EVENT = "cancel"


def cancel_message(data: Any, *, when: str = "") -> str:
    """The run's one-line message once a cancel event stopped it.

    The HTTP API raises the event with `{"reason", "actor"}`; older callers raised the bare reason as a
    string. Either way the user reads who canceled and why, never the event's Python repr. `when` says
    at what point (e.g. "while queued").
    """
    canceled = f"canceled {when}".rstrip()
    reason: Any = data
    actor: Any = None
    if isinstance(data, dict):
        reason, actor = data.get("reason"), data.get("actor")
    reason = str(reason).strip() if reason is not None and not isinstance(reason, dict) else ""
    actor = str(actor).strip() if actor is not None else ""
    if actor and reason:
        return f"{canceled} by {actor}: {reason}"
    if actor:
        return f"{canceled} by {actor}"
    if reason:
        return f"{canceled}: {reason}"
    return f"{canceled} by request"


class TriggerInfo(BaseModel):
    """Who or what started a run, as users ask after it."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["http", "blob", "servicebus", "schedule", "cli", "repair", "run_job"]
    detail: dict[str, Any] = Field(default_factory=dict, description="blob url/etag, message id, cron...")
    actor: str | None = None


class RepairInfo(BaseModel):
    model_config = ConfigDict(extra="forbid")

    of_run_id: str
    number: int = Field(ge=1)
    rerun_tasks: list[str]
    previous_states: dict[str, TaskState]
    previous_outcomes: dict[str, str] = Field(default_factory=dict)
    rerun_inputs: dict[str, InputSelection] = Field(
        default_factory=dict, description="a fan-out task reruns only these inputs (the ones that failed)"
    )


class RunRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    run_id: str
    job_id: str
    job: Job
    parameters: dict[str, Any] = Field(default_factory=dict)
    trigger: TriggerInfo
    repair: RepairInfo | None = None
    base_dir: str | None = Field(
        default=None, description="folder of the job file: relative script paths resolve here (local mode)"
    )
    not_before: str | None = Field(
        default=None, description="ISO time the run waits for: the cost policy's preferred window"
    )


class TaskProgress(BaseModel):
    model_config = ConfigDict(extra="forbid")

    state: TaskState = TaskState.PENDING
    attempts: int = 0
    start: str | None = None
    end: str | None = None
    queue_seconds: float | None = Field(default=None, description="submit to the work's own start")
    message: str | None = None
    compute: str | None = None
    outcome: str | None = Field(default=None, description="a condition task's 'true' / 'false' (for repairs)")
    failed_inputs: FailedInputs | None = Field(default=None, description="a fan-out's failed inputs")
    exit_code: int | None = None


class RunProgress(BaseModel):
    """`run_job`'s custom status: every task's live state."""

    model_config = ConfigDict(extra="forbid")

    run_id: str
    job_id: str
    tasks: dict[str, TaskProgress] = Field(default_factory=dict)
    result: RunResult | None = None
    starts_at: str | None = Field(default=None, description="queued for the cost window until then")


def derive_run_id(*parts: str) -> str:
    """A deterministic run id (and instance id) from the identity of the event that asks for the run."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:24]
    return f"run-{digest}"


def repair_run_id(original_run_id: str, number: int) -> str:
    """The run id (and instance id) of the `number`-th repair of a run."""
    return derive_run_id(original_run_id, "repair", str(number))


_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def undeclared_parameters(job: Job, parameters: Mapping[str, Any]) -> list[Problem]:
    """One problem per requested run parameter the job does not declare, at `$.parameters.<name>`.

    Every format declares its run parameters on the job (native `parameters`, Databricks job parameters,
    ADF pipeline parameters), and a task reaches a run parameter only through such a declaration, so an
    undeclared one could change nothing: like Databricks with job parameters, the start is refused rather
    than the value silently dropped (usually a typo). A job that declares none accepts none. The blob
    trigger's own parameters (`blob_path`, ...) are not requests and are not checked.
    """
    declared = [p.name for p in job.parameters]
    listing = ", ".join(declared) if declared else "none"
    return [
        Problem(
            path=f"$.parameters.{name}" if _PLAIN_NAME.fullmatch(name) else f"$.parameters[{name!r}]",
            message=f"job {job.name!r} has no parameter {name!r} (defined: {listing})",
            code="unknown-parameter",
        )
        for name in parameters
        if name not in declared
    ]
