"""Payloads of the control-flow orchestrators (`for_each`, `for_each_chunk`, `run_block`, `until`): plain
pydantic data that round-trips through JSON. The inputs travel once, sliced per chunk; what each iteration
did goes to its own task rows, and only counts and the failed indexes come back up."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from jobclusters.execution.messages import TaskRunInput
from jobclusters.run_request import RunRequest
from jobclusters.spec.model import TaskState
from jobclusters.spec.templating import TemplateContext


class _Msg(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ForEachInput(_Msg):
    """Input of `for_each`: the for_each task's run (its nested task still unrendered), the context its
    iterations render in, the inputs; carried across continue_as_new with the progress so far."""

    task_run: TaskRunInput
    context: TemplateContext
    inputs: list[Any]
    indexes: list[int] | None = Field(default=None, description="a repair: only these iterations run")
    concurrency: int = Field(ge=1)
    next_chunk: int = 0
    succeeded: int = 0
    failed: list[int] = Field(default_factory=list, description="indexes of the failed iterations so far")
    first_failure: str | None = None
    start: str | None = None
    executions: int = 1
    block: RunRequest | None = Field(default=None, description="an ADF body of several activities")
    variables: dict[str, Any] | None = Field(default=None, description="a block's run variables so far")
    deadline: str | None = Field(default=None, description="an enclosing Until's (`deadlines`)")


class ChunkInput(_Msg):
    """Input of `for_each_chunk`: some iterations of one for_each, run `concurrency` at a time."""

    task_run: TaskRunInput
    context: TemplateContext
    iterations: dict[int, Any] = Field(description="index -> input")
    concurrency: int = Field(ge=1)
    block: RunRequest | None = None
    deadline: str | None = Field(default=None, description="an enclosing Until's (`deadlines`)")


class IterationResult(_Msg):
    index: int
    state: TaskState
    message: str | None = None
    set_variables: dict[str, Any] = Field(default_factory=dict, description="a block's SetVariable values")
    appended: dict[str, list[Any]] = Field(default_factory=dict, description="a block's AppendVariable items")


class ChunkResult(_Msg):
    iterations: list[IterationResult] = Field(default_factory=list)


class BlockInput(_Msg):
    """Input of `run_block`: one pass of ADF inner activities (a ForEach iteration, an Until pass), walked
    by `run_job`'s walk without admission, slot, notification or run record. Its task rows go under the
    parent's tracked run with keys `<row_key>/<activity>`, and `<row_key>` is the pass's own row."""

    request: RunRequest = Field(description="the parent run's request, its job's tasks the body's")
    scope: TemplateContext = Field(description="what the body sees: @item(), outer outputs, variables")
    row_key: str
    deadline: str | None = Field(
        default=None, description="an Until's timeout: the pass's tasks are stopped by then (timeouts capped)"
    )


class BlockResult(_Msg):
    state: TaskState
    message: str | None = None
    tasks: dict[str, TaskState] = Field(default_factory=dict, description="inner activity -> its state")
    outputs: dict[str, dict[str, Any]] = Field(default_factory=dict, description="inner activity outputs")
    variables: dict[str, Any] = Field(default_factory=dict, description="the variables after the pass")


class CancelCheckInput(_Msg):
    """Input of `cancel_requested`: the run_job instance whose cancel marker a loop reads between passes."""

    control_id: str


class CancelForwardInput(_Msg):
    """Input of `forward_cancel`: a loop's running children and the cancel event's data, passed on as is
    (the user's reason and who asked)."""

    instance_ids: list[str]
    data: Any = None


class UntilInput(_Msg):
    """Input of `until`: the Until task's run, its body, and where the passes got to (carried across
    continue_as_new, one pass per execution)."""

    task_run: TaskRunInput
    body: RunRequest
    scope: TemplateContext
    passes: int = 0
    variables: dict[str, Any] = Field(default_factory=dict)
    start: str | None = None
    outer_deadline: str | None = Field(default=None, description="an enclosing Until's (`deadlines`)")
