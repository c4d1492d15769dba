"""Dynamic values in job definitions: Databricks `{{...}}` references and ADF `@...` expressions.

`render` is pure: everything it may substitute (ids, the run's start time, the clock for `utcnow()`,
task values, activity outputs) comes from the `TemplateContext` the caller builds. Secret references
(`{{secrets/scope/key}}`, `@Microsoft.KeyVault(...)`) are left exactly as written: resolving them is
the service's job at the last moment, never the model's. `find_references` lists every reference with
its JSON path, for validation.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from jobclusters.spec import adf_expressions as adf


class TemplateError(ValueError):
    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


class TemplateContext(BaseModel):
    """Values a rendering may use; a reference to one that is absent raises `TemplateError`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    job_id: str | None = None
    run_id: str | None = None
    job_name: str | None = None
    start_time: datetime | None = None
    now: datetime | None = Field(default=None, description="clock for utcnow(); defaults to start_time")
    parameters: dict[str, Any] = Field(default_factory=dict)
    variables: dict[str, Any] = Field(default_factory=dict)
    task_key: str | None = None
    task_run_id: str | None = None
    notebook_path: str | None = None
    retry_count: int = 0
    execution_count: int | str = 1  # a literal marker where each attempt renders it (attempt_values)
    repair_count: int = 0
    parent_run_id: str | None = None
    trigger_type: str | None = None
    trigger_time: datetime | None = None
    task_values: dict[str, dict[str, Any]] = Field(default_factory=dict)
    task_run_ids: dict[str, str] = Field(default_factory=dict)
    task_states: dict[str, str] = Field(default_factory=dict)
    activity_outputs: dict[str, Any] = Field(default_factory=dict)
    shared_cluster_id: str | None = None
    for_each_input: Any = None
    has_for_each_input: bool = False
    aliases: dict[str, str] = Field(default_factory=dict, description="extra bare {{name}} values")


@dataclass(frozen=True)
class Reference:
    """One dynamic reference found in a definition.

    kind: job | job.parameters | task | tasks | input | alias | secret | pipeline | pipeline.parameters |
    variables | activity | item | function | invalid. `name` is the parameter / task / variable /
    activity name where there is one. `error` is set when the reference is wrong whatever the job.
    """

    path: str
    text: str
    syntax: str  # "databricks" | "adf"
    kind: str
    name: str | None = None
    error: str | None = None


_BRACES = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
_TIME_FIELDS = frozenset(
    {
        "iso_date",
        "iso_datetime",
        "timestamp_ms",
        "year",
        "month",
        "day",
        "hour",
        "minute",
        "second",
        "iso_weekday",
        "is_weekday",
    }
)
_JOB_FIELDS = frozenset({"id", "run_id", "name", "repair_count"})
_TASK_FIELDS = frozenset({"name", "run_id", "execution_count", "notebook_path"})
_TASKS_FIELDS = frozenset({"run_id", "result_state", "error_code", "execution_count"})
#: the older bare names, and the seed's own
ALIASES = frozenset(
    {
        "job_id",
        "run_id",
        "start_date",
        "start_time",
        "task_retry_count",
        "parent_run_id",
        "task_key",
        "shared_cluster_id",
    }
)
_KEY_VAULT = re.compile(r"^@Microsoft\.KeyVault\(", re.IGNORECASE)


def is_adf_expression(text: str) -> bool:
    return text.startswith("@") and not text.startswith(("@@", "@{")) and not _KEY_VAULT.match(text)


# ------------------------------------------------------------------ finding references


def _classify_braces(path: str, text: str, name: str) -> Reference:
    def ref(kind: str, ref_name: str | None = None, error: str | None = None) -> Reference:
        return Reference(path, "{{" + name + "}}", "databricks", kind, ref_name, error)

    if name.startswith("secrets/"):
        ok = len(name.split("/")) == 3 and all(name.split("/"))
        return ref("secret", name, None if ok else "a secret reference is {{secrets/<scope>/<key>}}")
    if name in ALIASES:
        return ref("alias", name)
    parts = name.split(".")
    head = parts[0]
    if head == "job":
        if len(parts) == 2 and parts[1] in _JOB_FIELDS:
            return ref("job")
        if len(parts) >= 3 and parts[1] == "parameters":
            return ref("job.parameters", ".".join(parts[2:]))
        if len(parts) == 3 and parts[1] == "start_time" and parts[2] in _TIME_FIELDS:
            return ref("job")
        if parts[1:] == ["trigger", "type"] or (
            len(parts) == 4 and parts[1:3] == ["trigger", "time"] and parts[3] in _TIME_FIELDS
        ):
            return ref("job")
        return ref(
            "invalid",
            error=f"unknown reference {{{{{name}}}}}: the job namespace has id, run_id, "
            "name, repair_count, start_time.<iso_date|iso_datetime|timestamp_ms|...>, trigger.type, "
            "parameters.<name>",
        )
    if head == "task":
        if len(parts) == 2 and parts[1] in _TASK_FIELDS:
            return ref("task")
        return ref(
            "invalid",
            error=f"unknown reference {{{{{name}}}}}: the task namespace has "
            f"{', '.join(sorted(_TASK_FIELDS))}",
        )
    if head == "tasks":
        if len(parts) >= 4 and parts[2] == "values":
            return ref("tasks", parts[1])
        if len(parts) == 3 and parts[2] in _TASKS_FIELDS:
            return ref("tasks", parts[1])
        return ref(
            "invalid",
            error=f"unknown reference {{{{{name}}}}}: expected "
            "tasks.<task_key>.values.<name> or tasks.<task_key>.<run_id|result_state|error_code>",
        )
    if head == "input":
        return ref("input")
    if head in ALIASES or head in {"job", "task", "tasks"}:
        return ref("invalid", error=f"unknown reference {{{{{name}}}}}")
    return ref(
        "invalid",
        name,
        f"unknown reference {{{{{name}}}}}: expected job.*, task.*, tasks.<key>.values.<name>, "
        "secrets/<scope>/<key>, input, or one of " + ", ".join(sorted(ALIASES)),
    )


def _adf_references(path: str, text: str, source: str) -> list[Reference]:
    try:
        tree = adf.parse(text)
    except adf.ExpressionError as exc:
        return [Reference(path, source, "adf", "invalid", None, f"invalid expression: {exc}")]
    found: list[Reference] = []
    for node in adf.walk(tree):
        if (
            isinstance(node, adf.Member)
            and isinstance(node.target, adf.Call)
            and node.target.name == "pipeline"
        ):
            prop = node.name if isinstance(node.name, str) else None
            if prop == "parameters":
                continue
            err = None if prop in adf.PIPELINE_PROPERTIES else f"pipeline() has no property {prop!r}"
            found.append(Reference(path, source, "adf", "pipeline" if err is None else "invalid", prop, err))
        elif (
            isinstance(node, adf.Member)
            and isinstance(node.target, adf.Member)
            and isinstance(node.target.target, adf.Call)
            and node.target.target.name == "pipeline"
            and node.target.name == "parameters"
        ):
            name = node.name if isinstance(node.name, str) else None
            found.append(Reference(path, source, "adf", "pipeline.parameters", name))
        elif isinstance(node, adf.Call):
            found.extend(_adf_call_reference(path, source, node))
    return found


def _adf_call_reference(path: str, source: str, node: adf.Call) -> list[Reference]:
    if node.name not in adf.KNOWN_FUNCTIONS:
        return [Reference(path, source, "adf", "invalid", node.name, f"unknown function {node.name}()")]
    if node.name in {"variables", "activity"}:
        arg = node.args[0] if len(node.args) == 1 else None
        if not (isinstance(arg, adf.Literal) and isinstance(arg.value, str)):
            return [Reference(path, source, "adf", "invalid", None, f"{node.name}() takes one quoted name")]
        return [Reference(path, source, "adf", node.name, arg.value)]
    if node.name == "item":
        return [Reference(path, source, "adf", "item")]
    if node.name == "utcnow":
        return [Reference(path, source, "adf", "function", "utcnow")]
    return []


def references_in_string(text: str, path: str) -> list[Reference]:
    if text.startswith("@@") or _KEY_VAULT.match(text):
        return []
    if is_adf_expression(text):
        return _adf_references(path, text[1:], text)
    found: list[Reference] = []
    if "@{" in text:
        try:
            parts = adf.split_interpolation(text)
        except adf.ExpressionError as exc:
            return [Reference(path, text, "adf", "invalid", None, str(exc))]
        for is_expr, part in parts:
            if is_expr:
                found.extend(_adf_references(path, part, "@{" + part + "}"))
    for match in _BRACES.finditer(text):
        found.append(_classify_braces(path, text, match.group(1)))
    return found


def find_references(value: Any, path: str = "$") -> list[Reference]:
    """Every `{{...}}` and ADF expression reference in `value` (recursively), with its JSON path."""
    if isinstance(value, str):
        return references_in_string(value, path)
    found: list[Reference] = []
    if isinstance(value, Mapping):
        for key, item in value.items():
            found.extend(find_references(item, f"{path}.{key}" if _plain(str(key)) else f"{path}['{key}']"))
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            found.extend(find_references(item, f"{path}[{i}]"))
    return found


def _plain(key: str) -> bool:
    return re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key) is not None


# ------------------------------------------------------------------ rendering


def render(value: Any, context: TemplateContext, path: str = "$") -> Any:
    """`value` with every reference substituted (dicts and lists recursively). Pure."""
    if isinstance(value, str):
        return _render_string(value, context, path)
    if isinstance(value, Mapping):
        if set(value) == {"value", "type"} and value.get("type") == "Expression":
            return render(value["value"], context, path)
        return {
            key: render(item, context, f"{path}.{key}" if _plain(str(key)) else f"{path}['{key}']")
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [render(item, context, f"{path}[{i}]") for i, item in enumerate(value)]
    return value


def _render_string(text: str, context: TemplateContext, path: str) -> Any:
    if text.startswith("@@"):
        return text[1:]
    if is_adf_expression(text):
        return _evaluate_adf(text[1:], context, path)
    if "@{" in text:
        try:
            parts = adf.split_interpolation(text)
        except adf.ExpressionError as exc:
            raise TemplateError(path, str(exc)) from exc
        text = "".join(
            adf.as_text(_evaluate_adf(part, context, path)) if is_expr else part for is_expr, part in parts
        )
    if "{{" not in text:
        return text
    return _BRACES.sub(lambda m: _resolve_braces(m.group(1), context, path), text)


def _scope(context: TemplateContext) -> adf.Scope:
    triggered = context.trigger_time or context.start_time
    pipeline: dict[str, Any] = {
        "RunId": context.run_id,
        "Pipeline": context.job_name,
        "TriggerTime": adf.iso_timestamp(triggered) if triggered else None,
        "TriggerType": context.trigger_type,
    }
    return adf.Scope(
        parameters=context.parameters,
        variables=context.variables,
        activity_outputs=context.activity_outputs,
        pipeline=pipeline,
        now=context.now or context.start_time,
        item=context.for_each_input,
        has_item=context.has_for_each_input,
    )


def _evaluate_adf(text: str, context: TemplateContext, path: str) -> Any:
    try:
        return adf.evaluate(adf.parse(text), _scope(context))
    except adf.ExpressionError as exc:
        raise TemplateError(path, f"@{text}: {exc}") from exc


def _need(value: Any, what: str, path: str) -> Any:
    if value is None:
        raise TemplateError(path, f"{{{{{what}}}}} is not available in this context")
    return value


def _time_field(ts: datetime, field: str) -> str:
    ts = ts if ts.tzinfo else ts.replace(tzinfo=UTC)
    values = {
        "iso_date": ts.date().isoformat(),
        "iso_datetime": ts.isoformat(),
        "timestamp_ms": str(int(ts.timestamp() * 1000)),
        "year": str(ts.year),
        "month": str(ts.month),
        "day": str(ts.day),
        "hour": str(ts.hour),
        "minute": str(ts.minute),
        "second": str(ts.second),
        "iso_weekday": str(ts.isoweekday()),
        "is_weekday": "true" if ts.isoweekday() <= 5 else "false",
    }
    return values[field]


def _resolve_braces(name: str, context: TemplateContext, path: str) -> str:
    reference = _classify_braces(path, name, name)
    if reference.error is not None:
        raise TemplateError(path, reference.error)
    kind = reference.kind
    if kind == "secret":
        return "{{" + name + "}}"
    parts = name.split(".")
    value: Any
    if kind == "alias":
        value = _alias(name, context, path)
    elif kind == "job.parameters":
        if reference.name not in context.parameters:
            raise TemplateError(path, f"{{{{{name}}}}}: no job parameter {reference.name!r}")
        value = context.parameters[reference.name or ""]
    elif kind == "job":
        value = _job_value(parts, context, path, name)
    elif kind == "task":
        value = {
            "name": context.task_key,
            "run_id": context.task_run_id,
            "execution_count": context.execution_count,
            "notebook_path": context.notebook_path,
        }[parts[1]]
    elif kind == "tasks":
        value = _tasks_value(parts, context, path, name)
    else:  # input
        if not context.has_for_each_input:
            raise TemplateError(path, "{{input}} is only defined inside a for_each task")
        value = context.for_each_input
        for part in parts[1:]:
            if not isinstance(value, Mapping) or part not in value:
                raise TemplateError(path, f"{{{{{name}}}}}: the input has no field {part!r}")
            value = value[part]
    return adf.as_text(_need(value, name, path))


def _alias(name: str, context: TemplateContext, path: str) -> Any:
    if name in context.aliases:
        return context.aliases[name]
    start = context.start_time
    return {
        "job_id": context.job_id,
        "run_id": context.run_id,
        "start_date": start.date().isoformat() if start else None,
        "start_time": _time_field(start, "timestamp_ms") if start else None,
        "task_retry_count": context.retry_count,
        "parent_run_id": context.parent_run_id,
        "task_key": context.task_key,
        "shared_cluster_id": context.shared_cluster_id,
    }[name]


def _job_value(parts: list[str], context: TemplateContext, path: str, name: str) -> Any:
    if parts[1] == "start_time":
        return _time_field(_need(context.start_time, name, path), parts[2])
    if parts[1] == "trigger":
        if parts[2] == "type":
            return context.trigger_type
        return _time_field(_need(context.trigger_time or context.start_time, name, path), parts[3])
    return {
        "id": context.job_id,
        "run_id": context.run_id,
        "name": context.job_name,
        "repair_count": context.repair_count,
    }[parts[1]]


def _tasks_value(parts: list[str], context: TemplateContext, path: str, name: str) -> Any:
    key = parts[1]
    if parts[2] == "values":
        values = context.task_values.get(key)
        value_name = ".".join(parts[3:])
        if values is None or value_name not in values:
            raise TemplateError(path, f"{{{{{name}}}}}: task {key!r} has set no value {value_name!r}")
        return values[value_name]
    if parts[2] == "run_id":
        return context.task_run_ids.get(key)
    if parts[2] == "result_state":
        return context.task_states.get(key)
    return None
