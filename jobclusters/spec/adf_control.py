"""The rules of the ADF control activities `run_job` decides itself: Wait, SetVariable, AppendVariable,
Filter. Pure: the variables and the rendering context come from the orchestrator.

Variables live in the run (`run_job` carries them across continue-as-new); an activity sees the values
set by the activities that finished before it started. `pipelineReturnValue` is the run's return value
(`{key: value}`), shown in the run's output.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jobclusters.spec.model import FilterPayload, SetVariablePayload
from jobclusters.spec.templating import TemplateContext, render

RETURN_VALUE = "pipelineReturnValue"


def wait_seconds(value: int | str) -> int:
    """A Wait's seconds, rendered: a whole number, at least 0."""
    try:
        seconds = int(str(value).strip())
    except ValueError:
        raise ValueError(f"waitTimeInSeconds is not a number: {value!r}") from None
    if seconds < 0:
        raise ValueError(f"waitTimeInSeconds is negative: {seconds}")
    return seconds


def set_variable(
    variables: dict[str, Any], payload: SetVariablePayload, declared: Mapping[str, Any]
) -> dict[str, Any]:
    """Set (or append to) a variable in `variables`; the activity's output, `{name, value}`."""
    name = payload.name
    if name != RETURN_VALUE and name not in declared:
        raise ValueError(f"variable {name!r} is not declared in the pipeline's variables")
    if payload.append:
        current = variables.get(name)
        current = [] if current is None else current
        if not isinstance(current, list):
            raise ValueError(f"AppendVariable: variable {name!r} is not an Array (it holds {current!r})")
        variables[name] = [*current, payload.value]
    else:
        variables[name] = payload.value
    return {"name": name, "value": variables[name]}


def filter_items(payload: FilterPayload, context: TemplateContext, path: str) -> dict[str, Any]:
    """The items for which the condition holds, as ADF's Filter output: `value`, `ItemsCount`,
    `FilteredItemsCount`."""
    items = payload.items
    if not isinstance(items, list):
        raise ValueError(f"{path}.items: Filter items is not an array: got {type(items).__name__}")
    kept = []
    for item in items:
        scope = context.model_copy(update={"for_each_input": item, "has_for_each_input": True})
        verdict = render(payload.condition, scope, f"{path}.condition")
        if not isinstance(verdict, bool):
            raise ValueError(f"{path}.condition: Filter condition is not a boolean: {verdict!r}")
        if verdict:
            kept.append(item)
    return {"value": kept, "ItemsCount": len(items), "FilteredItemsCount": len(kept)}
