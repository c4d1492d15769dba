"""Which inputs of a fan-out failed, and which of them a repair runs again.

A fan-out can have thousands of inputs, and what a run reports travels in Durable payloads (outcomes,
custom status, repair requests) that must stay small: they carry the count and the first `MAX_LISTED`
failed inputs; when there are more, `ref` names a blob with all of them. An input is named by its index
in the fan-out's list of inputs, which is also what its Batch task id and its log folder are made of, so
a repair that runs some inputs again keeps their ids, their index and their value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from jobclusters.spec import Job

MAX_LISTED = 10
MESSAGE_LIMIT = 300


class FailedInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    index: int = Field(ge=0, description="position in the fan-out's inputs")
    input: str | None = Field(default=None, description="the input value (None: a task without fan_out)")
    task_id: str
    exit_code: int | None = None
    code: str | None = None
    message: str | None = None
    retry_count: int = 0
    log_urls: dict[str, str] = Field(default_factory=dict, description="stdout.txt / stderr.txt")


class FailedInputs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    count: int = Field(ge=0, description="every failed input, listed or not")
    listed: list[FailedInput] = Field(default_factory=list, description=f"the first {MAX_LISTED}")
    ref: str | None = Field(default=None, description="blob reference of the JSON list of all of them")

    def describe(self) -> str:
        """The failed inputs as one line for a task's message (and so its tracking rows)."""
        parts = []
        for f in self.listed:
            value = "" if f.input is None else f" ({f.input})"
            why = f": {f.message}" if f.message and f.code not in (None, "FailureExitCode") else ""
            parts.append(f"input {f.index}{value} exit code {f.exit_code}{why}")
        more = self.count - len(self.listed)
        if more > 0:
            parts.append(f"and {more} more")
        return "; ".join(parts)

    def selection(self) -> InputSelection:
        """What a repair runs again: the indexes themselves, or the blob that lists them all."""
        if self.ref is not None and self.count > len(self.listed):
            return InputSelection(ref=self.ref)
        return InputSelection(indexes=[f.index for f in self.listed])


class InputSelection(BaseModel):
    """The inputs a repaired fan-out plans: `indexes`, or every index in the failed-inputs blob `ref`."""

    model_config = ConfigDict(extra="forbid")

    indexes: list[int] = Field(default_factory=list)
    ref: str | None = None


def rerun_inputs(
    job: Job, rerun: Sequence[str], failed: Mapping[str, FailedInputs | None]
) -> dict[str, InputSelection]:
    """The inputs each rerun fan-out task runs again: its failed ones, unless a task upstream of it reruns
    too (what its inputs read may then change, so all of them run again), or it has none on record (it
    failed before or beside its inputs: timed out, canceled, never started)."""
    again = set(rerun)
    out = {}
    for key in rerun:
        inputs = failed.get(key)
        if inputs is None or inputs.count == 0:
            continue
        if any(d.task_key in again for d in job.task(key).depends_on):
            continue
        out[key] = inputs.selection()
    return out
