"""The ADF / Synapse control activities jobclusters runs: Wait, SetVariable, AppendVariable, Filter, and
the selectors of IfCondition / Switch.

Their expressions are kept as written (`{"value": "@...", "type": "Expression"}` unwrapped); `run_job`
renders them when the activity is ready, against the run's variables and the outputs recorded so far
(Filter's `condition` once per item, with `@item()`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jobclusters.spec.adf_control import RETURN_VALUE
from jobclusters.spec.model import BranchPayload, FilterPayload, Payload, SetVariablePayload, WaitPayload
from jobclusters.spec.reader import Node


def unwrap_expression(value: Any) -> Any:
    """`{"value": "@x", "type": "Expression"}` -> "@x" (recursively); other values unchanged."""
    if isinstance(value, dict):
        if set(value) == {"value", "type"} and value.get("type") == "Expression":
            return value["value"]
        return {k: unwrap_expression(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap_expression(v) for v in value]
    return value


def _wait(body: Node) -> Payload | None:
    seconds = unwrap_expression(body.raw("waitTimeInSeconds"))
    if isinstance(seconds, bool) or not isinstance(seconds, int | str):
        body.error("waitTimeInSeconds", "required: a number of seconds or an expression", "required")
        return None
    if isinstance(seconds, int) and seconds < 0:
        body.error("waitTimeInSeconds", f"expected at least 0, got {seconds}", "range")
        return None
    return WaitPayload(seconds=seconds)


def _variable(body: Node, *, append: bool) -> Payload | None:
    name = body.string("variableName", required=True)
    if name is None:
        return None
    if not body.has("value"):
        body.error("value", "required: the value to set", "required")
        return None
    value = unwrap_expression(body.raw("value"))
    if name == RETURN_VALUE and not append:
        if not isinstance(value, list):
            body.error("value", "the pipeline return value is a list of {key, value}", "invalid")
            return None
        value = {str(e.get("key")): _return_entry(e.get("value")) for e in value if isinstance(e, dict)}
    return SetVariablePayload(name=name, value=value, append=append)


def _return_entry(value: Any) -> Any:
    """A return value entry `{"type": "String"|"Expression"|..., "content": ...}` as its content."""
    if isinstance(value, dict) and "content" in value:
        return value["content"]
    return value


def _filter(body: Node) -> Payload | None:
    items = unwrap_expression(body.raw("items"))
    condition = unwrap_expression(body.raw("condition"))
    if items is None:
        body.error("items", "required: an expression giving the array to filter", "required")
    if not isinstance(condition, str):
        body.error("condition", "required: an expression on @item()", "required")
        return None
    if items is None:
        return None
    return FilterPayload(items=items, condition=condition)


def check_kept(kind: str, body: Node) -> None:
    """Errors a Switch or Until carries whether or not it can run here: duplicate cases, no timeout cap."""
    if kind == "Switch":
        seen: dict[str, int] = {}
        for index, case in enumerate(body.objects("cases")):
            value = case.raw("value")
            key = str(value)
            if key in seen:
                case.error("value", f"duplicate case {value!r} (also cases[{seen[key]}])", "duplicate")
            seen.setdefault(key, index)
    if kind == "Until" and body.raw("timeout") in (None, ""):
        body.error("timeout", "required: an Until needs a timeout cap (d.hh:mm:ss)", "required")


def read_branch(node: Node, kind: str, body: Node | None) -> BranchPayload | None:
    """The selector payload of an IfCondition (`expression`) or Switch (`on`, `cases`); the branches
    themselves are expanded by adf_branches.py."""
    if body is None:
        node.error("typeProperties", f"required: a {kind} activity has typeProperties", "required")
        return None
    check_kept(kind, body)
    field, what = ("expression", "a boolean expression") if kind == "IfCondition" else ("on", "an expression")
    value = unwrap_expression(body.raw(field))
    if isinstance(value, bool) and kind == "IfCondition":
        value = "true" if value else "false"
    if not isinstance(value, str) or not value.strip():
        body.error(field, f"required: {what} choosing the branch", "required")
        return None
    if kind == "IfCondition":
        return BranchPayload(mode="if", on=value)
    cases = []
    for case in body.objects("cases"):
        label = case.raw("value")
        if isinstance(label, bool) or not isinstance(label, str | int | float):
            case.error("value", "required: the case value, a string", "required")
        elif str(label) == "default":
            case.error("value", "a case 'default' cannot be told from defaultActivities here", "unsupported")
        else:
            cases.append(str(label))
    return BranchPayload(mode="switch", on=value, cases=cases)


READERS: dict[str, Callable[[Node], Payload | None]] = {
    "Wait": _wait,
    "SetVariable": lambda body: _variable(body, append=False),
    "AppendVariable": lambda body: _variable(body, append=True),
    "Filter": _filter,
}
