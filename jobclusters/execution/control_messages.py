"""Payloads of the control-flow orchestrators (`for_each`, `for_each_chunk`): plain pydantic data that
round-trips through JSON. The inputs travel once, sliced per chunk; what each iteration did goes to its
own task rows, and only counts and the failed indexes come back up."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from jobclusters.execution.messages import TaskRunInput
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


class ChunkInput(_Msg):
    """Input of `for_each_chunk`: some iterations of one for_each, run `concurrency` at a time."""

    task_run: TaskRunInput
    context: TemplateContext
    iterations: dict[int, Any] = Field(description="index -> input")
    concurrency: int = Field(ge=1)


class IterationResult(_Msg):
    index: int
    state: TaskState
    message: str | None = None


class ChunkResult(_Msg):
    iterations: list[IterationResult] = Field(default_factory=list)
