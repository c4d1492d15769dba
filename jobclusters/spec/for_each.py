"""The rules of a Databricks `for_each_task`, as pure functions the orchestrators call during replay.

`inputs` is a JSON array, written as a list or as a string that renders to one (`{{job.parameters.x}}`,
`{{tasks.k.values.v}}`); the nested task runs once per input with `{{input}}` / `{{input.<field>}}`
rendered, at most `concurrency` at a time. Iterations keep going when one fails; the for_each task then
ends FAILED. A repair runs only the iterations that did not succeed.

History stays bounded whatever the input count: iterations run in chunks (`CHUNK_SIZE` each, one
sub-orchestration per chunk), and the concurrency is split over at most `MAX_LANES` lanes, each running its
chunks one after another with its share of the concurrency, so the sum of what runs never exceeds
`concurrency`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from jobclusters.spec.model import TaskState

#: the most inputs one for_each runs (the home engine's documented floor is what we promise)
MAX_INPUTS = 10_000
MAX_CONCURRENCY = 100
#: iterations in one chunk sub-orchestration (its history: about 6 events per iteration)
CHUNK_SIZE = 50
#: chunk sub-orchestrations of one for_each running at once
MAX_LANES = 4


#: where the task rows keep a for_each's input count (its own rows) and an iteration's input (the
#: iteration's rows), under `parameters`
ITERATIONS_TOTAL = "for_each_inputs"
ITERATION_INPUT = "input"


class ForEachError(ValueError):
    """Bad inputs, named by the JSON path of the value when the definition gives one."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path


def parse_inputs(value: Any, path: str) -> list[Any]:
    """The inputs as a list: `value` is the list itself or its (rendered) JSON text."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ForEachError(path, f"inputs is not a JSON array: {exc.msg} at {exc.pos}") from exc
    if not isinstance(value, list):
        raise ForEachError(path, f"inputs is not a JSON array: got {type(value).__name__}")
    if len(value) > MAX_INPUTS:
        raise ForEachError(path, f"inputs has {len(value)} values, more than the limit of {MAX_INPUTS}")
    return value


def check_concurrency(concurrency: int, path: str) -> int:
    if not 1 <= concurrency <= MAX_CONCURRENCY:
        raise ForEachError(path, f"concurrency must be 1..{MAX_CONCURRENCY}, got {concurrency}")
    return concurrency


def iteration_key(task_key: str, index: int) -> str:
    """The key of one iteration's task rows (and the stem of its instance ids)."""
    return f"{task_key}[{index}]"


def parse_iteration_key(key: str) -> tuple[str, int] | None:
    """(for_each task key, index) of an iteration's key, else None."""
    if not key.endswith("]") or "[" not in key:
        return None
    parent, _, index = key[:-1].rpartition("[")
    return (parent, int(index)) if parent and index.isdigit() else None


def lane_concurrency(concurrency: int, chunk_count: int) -> list[int]:
    """How the concurrency is shared among the lanes: `MAX_LANES` of them, fewer when the concurrency is
    lower or there are fewer chunks (a lane with no chunk to run would hold its share unused, and 8 inputs
    at concurrency 8 would run 2 at a time), summing to `concurrency`. More lanes leave less idle at the
    end of each chunk."""
    lanes = max(1, min(MAX_LANES, concurrency, chunk_count))
    base, extra = divmod(concurrency, lanes)
    return [base + (1 if i < extra else 0) for i in range(lanes)]


def chunks(indexes: list[int], size: int = CHUNK_SIZE) -> list[list[int]]:
    return [indexes[i : i + size] for i in range(0, len(indexes), size)]


@dataclass(frozen=True)
class Tally:
    """What the iterations came to so far."""

    total: int
    succeeded: int = 0
    failed: int = 0

    @property
    def done(self) -> int:
        return self.succeeded + self.failed

    def describe(self) -> str:
        """The progress line's words: `3/4 done, 1 failed`."""
        failed = f", {self.failed} failed" if self.failed else ""
        return f"{self.done}/{self.total} done{failed}"

    def state(self) -> TaskState:
        return TaskState.FAILED if self.failed else TaskState.SUCCESS


def variable_changes(
    before: dict[str, Any], after: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    """What one ADF ForEach iteration did to the run's variables: (values it set, items it appended).
    Each iteration works on its own copy; the ForEach applies the changes in the order iterations end,
    so every AppendVariable of every iteration lands and the last SetVariable wins, as in ADF."""
    set_values: dict[str, Any] = {}
    appended: dict[str, list[Any]] = {}
    for name, value in after.items():
        old = before.get(name)
        if value == old:
            continue
        if old is None and isinstance(value, list):
            old = []  # an Array variable without a default: appending and setting look alike
        if isinstance(value, list) and isinstance(old, list) and value[: len(old)] == old:
            appended[name] = value[len(old) :]
        else:
            set_values[name] = value
    return set_values, appended


def apply_changes(
    variables: dict[str, Any], set_values: dict[str, Any], appended: dict[str, list[Any]]
) -> dict[str, Any]:
    merged = {**variables, **set_values}
    for name, items in appended.items():
        current = merged.get(name)
        merged[name] = [*(current if isinstance(current, list) else []), *items]
    return merged
