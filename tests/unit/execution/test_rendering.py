from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from jobclusters.execution.messages import TaskOutcome
from jobclusters.execution.rendering import render_task, template_context, trigger_files
from jobclusters.run_request import RunRequest, TriggerInfo
from jobclusters.spec.model import Job, TaskState
from jobclusters.spec.templating import TemplateError

START = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)


def request(tasks: list[dict[str, Any]], **fields: Any) -> RunRequest:
    job = Job.model_validate(
        {"name": "j", "parameters": [{"name": "day", "default": "2026-01-01"}], "tasks": tasks}
    )
    return RunRequest(run_id="run-1", job_id="j", job=job, trigger=TriggerInfo(kind="blob"), **fields)


def rendered(req: RunRequest, key: str, outcomes: dict[str, TaskOutcome] | None = None) -> Any:
    context = template_context(
        req, start=START, now=START, task_key=key, task_run_id="tr", outcomes=outcomes or {}
    )
    return render_task(req.job.task(key), context)


def test_parameters_run_values_and_upstream_task_values_are_rendered() -> None:
    req = request(
        [
            {"key": "a", "payload": {"kind": "command", "command_line": "x"}},
            {
                "key": "b",
                "payload": {
                    "kind": "spark_python",
                    "python_file": "b.py",
                    "parameters": [
                        "{{job.parameters.day}}",
                        "{{job.run_id}}",
                        "{{tasks.a.values.rows}}",
                        "{{job.start_time.iso_date}}",
                    ],
                },
            },
        ],
        parameters={"day": "2026-03-03"},
    )
    task = rendered(req, "b", {"a": TaskOutcome(state=TaskState.SUCCESS, task_values={"rows": 42})})
    assert task.payload.parameters == ["2026-03-03", "run-1", "42", "2026-03-04"]


def test_a_fan_out_keeps_its_input_placeholder_for_each_batch_task() -> None:
    req = request(
        [
            {
                "key": "fan",
                "payload": {
                    "kind": "command",
                    "command_line": "python x.py {{input}} --day {{job.parameters.day}}",
                    "fan_out": {"items": ["a"]},
                },
            }
        ]
    )
    assert rendered(req, "fan").payload.command_line == "python x.py {{input}} --day 2026-01-01"


def test_secret_references_stay_references() -> None:
    req = request([{"key": "a", "payload": {"kind": "command", "command_line": "x {{secrets/scope/key}}"}}])
    assert rendered(req, "a").payload.command_line == "x {{secrets/scope/key}}"


def test_an_unknown_reference_names_the_json_path() -> None:
    req = request(
        [
            {
                "key": "a",
                "payload": {"kind": "command", "command_line": "{{job.parameters.nope}}"},
                "source_path": "$.tasks[0]",
            }
        ]
    )
    with pytest.raises(TemplateError, match=r"\$\.tasks\[0\]\.payload\.command_line"):
        rendered(req, "a")


def test_trigger_files_come_from_a_files_list_or_the_blob_that_arrived() -> None:
    task = [{"key": "a"}]
    assert trigger_files(request(task, parameters={"files": ["c/a", "c/b"]})) == ["c/a", "c/b"]
    assert trigger_files(request(task, parameters={"blob_path": "incoming/x.csv"})) == ["incoming/x.csv"]
    assert trigger_files(request(task)) == []
