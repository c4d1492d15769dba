"""ADF control activities at import: what jobclusters runs becomes a typed payload, and a Switch with
duplicate cases or an Until without a timeout cap is an error at its JSON path."""

from __future__ import annotations

from typing import Any

import pytest

from jobclusters.spec import load_definition
from jobclusters.spec.model import FilterPayload, SetVariablePayload, WaitPayload

NO_TAGS: tuple[str, ...] = ()


def _pipeline(kind: str, props: dict[str, Any]) -> dict[str, Any]:
    return {"name": "p", "properties": {"activities": [{"name": "a", "type": kind, "typeProperties": props}]}}


@pytest.mark.parametrize(
    ("kind", "props", "payload"),
    [
        ("Wait", {"waitTimeInSeconds": 5}, WaitPayload(seconds=5)),
        (
            "Wait",
            {"waitTimeInSeconds": {"value": "@string(5)", "type": "Expression"}},
            WaitPayload(seconds="@string(5)"),
        ),
        ("SetVariable", {"variableName": "v", "value": "x"}, SetVariablePayload(name="v", value="x")),
        (
            "AppendVariable",
            {"variableName": "v", "value": 1},
            SetVariablePayload(name="v", value=1, append=True),
        ),
        (
            "SetVariable",
            {
                "variableName": "pipelineReturnValue",
                "value": [{"key": "k", "value": {"type": "String", "content": "c"}}],
            },
            SetVariablePayload(name="pipelineReturnValue", value={"k": "c"}),
        ),
        (
            "Filter",
            {
                "items": {"value": "@variables('v')", "type": "Expression"},
                "condition": {"value": "@true", "type": "Expression"},
            },
            FilterPayload(items="@variables('v')", condition="@true"),
        ),
    ],
)
def test_runnable_control_activities_become_payloads(kind: str, props: dict[str, Any], payload: Any) -> None:
    doc = _pipeline(kind, props)
    doc["properties"]["variables"] = {"v": {"type": "Array"}}
    result = load_definition(doc, required_tags=NO_TAGS)
    assert result.errors == []
    assert result.require().tasks[0].payload == payload


@pytest.mark.parametrize(
    ("kind", "props", "path", "code"),
    [
        (
            "Switch",
            {"on": "@'a'", "cases": [{"value": "a"}, {"value": "b"}, {"value": "a"}]},
            "cases[2].value",
            "duplicate",
        ),
        ("Until", {"expression": {"value": "@true", "type": "Expression"}}, "timeout", "required"),
        ("Wait", {"waitTimeInSeconds": -1}, "waitTimeInSeconds", "range"),
        ("Filter", {"condition": "@true"}, "items", "required"),
    ],
)
def test_bad_control_activities_are_errors_at_their_path(
    kind: str, props: dict[str, Any], path: str, code: str
) -> None:
    result = load_definition(_pipeline(kind, props), required_tags=NO_TAGS)
    assert (f"$.properties.activities[0].typeProperties.{path}", code) in [
        (e.path, e.code) for e in result.errors
    ]
