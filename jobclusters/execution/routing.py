"""Which orchestrator runs a task, and the retry policy that applies to whole attempts of it."""

from __future__ import annotations

from typing import Literal

from jobclusters.execution.messages import AttemptInput, TaskOutcome
from jobclusters.execution.registry import (
    BATCH_FANOUT,
    CHILD_RUN,
    CLUSTER_RUN,
    DATA_ACTIVITY,
    OrchestratorSpec,
)
from jobclusters.spec.model import CommandPayload, RetryPolicy, Task

Executor = Literal["batch", "cluster", "inline", "child", "data", "control", "unsupported"]

CLUSTER_KINDS = frozenset(
    {
        "notebook",
        "spark_python",
        "python_wheel",
        "spark_jar",
        "spark_submit",
        "livy_batch",
        "hive",
        "mapreduce",
        "sql",
    }
)
INLINE_KINDS = frozenset({"condition", "fail", "set_variable", "filter", "branch", "join"})
CHILD_KINDS = frozenset({"run_job"})
DATA_KINDS = frozenset({"web", "get_metadata", "lookup"})
#: run by `run_job` itself: a for_each or an ADF Until as its own sub-orchestration, a wait as a durable
#: timer, an ADF body of several activities (`block`) as a `run_block` per iteration
CONTROL_KINDS = frozenset({"for_each", "wait", "until", "block"})


def executor_for(task: Task) -> Executor:
    kind = task.payload.kind if task.payload is not None else None
    if kind == "command":
        return "batch"
    if kind in CLUSTER_KINDS:
        return "cluster"
    if kind in INLINE_KINDS:
        return "inline"
    if kind in CHILD_KINDS:
        return "child"
    if kind in DATA_KINDS:
        return "data"
    if kind in CONTROL_KINDS:
        return "control"
    return "unsupported"


def attempt_orchestrator(task: Task) -> OrchestratorSpec[AttemptInput, TaskOutcome] | None:
    """The sub-orchestration that runs one attempt of `task`; None when no attempt can run here."""
    orchestrators = {"batch": BATCH_FANOUT, "cluster": CLUSTER_RUN, "child": CHILD_RUN, "data": DATA_ACTIVITY}
    return orchestrators.get(executor_for(task))


def unsupported_reason(task: Task) -> str:
    kind = task.payload.kind if task.payload is not None else "none"
    where = task.source_path or "?"
    return f"task {task.key!r}: payload kind {kind!r} cannot be run by this app (source {where})"


def attempt_retry_policy(task: Task) -> RetryPolicy:
    """A fan-out retries each input on Batch (maxTaskRetryCount), so only a timeout reruns the whole
    attempt; every other task retries whole attempts by its own policy."""
    payload = task.payload
    if isinstance(payload, CommandPayload) and payload.fan_out is not None:
        return task.retry.model_copy(
            update={"max_retries": task.retry.max_retries if task.retry.retry_on_timeout else 0}
        )
    return task.retry


def per_input_retries(task: Task) -> int:
    payload = task.payload
    if isinstance(payload, CommandPayload) and payload.fan_out is not None:
        return task.retry.max_retries
    return 0
