"""A Databricks for_each whose inputs or concurrency can be judged from the definition is refused at
validation, naming the JSON path; inputs that reference run values are judged when the task starts."""

from __future__ import annotations

from typing import Any

import pytest

from jobclusters.spec import load_definition
from jobclusters.spec.for_each import MAX_INPUTS
from tests.unit.spec.test_importers import NO_TAGS, databricks_job


def _with_for_each(**body: Any) -> dict[str, Any]:
    doc = databricks_job(parameters=[{"name": "regions", "default": "[]"}])
    task = {"task_key": "one", "job_cluster_key": "c", "notebook_task": {"notebook_path": "/x"}}
    doc["tasks"].append({"task_key": "loop", "for_each_task": {"task": task, **body}})
    return doc


@pytest.mark.parametrize(
    ("body", "path", "message"),
    [
        ({"inputs": '{"a": 1}'}, "$.tasks[2].for_each_task.inputs", "inputs is not a JSON array: got dict"),
        ({"inputs": "[1, 2"}, "$.tasks[2].for_each_task.inputs", "inputs is not a JSON array"),
        (
            {"inputs": list(range(MAX_INPUTS + 1))},
            "$.tasks[2].for_each_task.inputs",
            f"inputs has {MAX_INPUTS + 1} values, more than the limit of {MAX_INPUTS}",
        ),
        (
            {"inputs": "[1]", "concurrency": 101},
            "$.tasks[2].for_each_task.concurrency",
            "expected at most 100",
        ),
    ],
)
def test_bad_for_each_is_an_error_at_its_path(body: dict[str, Any], path: str, message: str) -> None:
    result = load_definition(_with_for_each(**body), required_tags=NO_TAGS)
    assert [(e.path, e.message.startswith(message)) for e in result.errors] == [(path, True)]


@pytest.mark.parametrize("inputs", ["[1, 2, 3]", '[{"a": 1}]', "{{job.parameters.regions}}", [1, 2]])
def test_literal_arrays_and_references_are_accepted(inputs: Any) -> None:
    result = load_definition(_with_for_each(inputs=inputs, concurrency=100), required_tags=NO_TAGS)
    assert result.errors == []
