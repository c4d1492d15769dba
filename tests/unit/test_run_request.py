"""What every start path shares: the cancel message a user reads, and which run parameters a job takes."""

from __future__ import annotations

from typing import Any

import pytest

from jobclusters.run_request import cancel_message, undeclared_parameters
from jobclusters.spec import Job, load_definition


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"reason": "wrong input", "actor": "alice"}, "canceled by alice: wrong input"),
        ({"reason": "wrong input", "actor": None}, "canceled: wrong input"),
        ({"reason": None, "actor": "alice"}, "canceled by alice"),
        ({"reason": None, "actor": None}, "canceled by request"),
        ({}, "canceled by request"),
        ({"reason": "  ", "actor": ""}, "canceled by request"),
        ("stop it", "canceled: stop it"),
        (None, "canceled by request"),
        ("", "canceled by request"),
    ],
)
def test_the_cancel_event_becomes_one_line_naming_who_and_why(data: Any, expected: str) -> None:
    assert cancel_message(data) == expected


def test_the_message_never_shows_a_python_dict() -> None:
    message = cancel_message({"reason": "x", "actor": None})
    assert "{" not in message and "'" not in message


NATIVE = {"format": "jobclusters/v1", "name": "n", "parameters": [{"name": "day"}], "tasks": [{"key": "a"}]}
DATABRICKS = {
    "name": "d",
    "parameters": [{"name": "day", "default": "x"}],
    "tasks": [{"task_key": "a", "notebook_task": {"notebook_path": "/a", "base_parameters": {"free": "1"}}}],
}
ADF = {
    "name": "p",
    "properties": {
        "parameters": {"day": {"type": "String"}},
        "activities": [{"name": "a", "type": "Wait", "typeProperties": {"waitTimeInSeconds": 1}}],
    },
}


def job_of(document: dict[str, Any]) -> Job:
    job = load_definition(document).job
    assert job is not None
    return job


@pytest.mark.parametrize("document", [NATIVE, DATABRICKS, ADF], ids=["native", "databricks", "adf"])
def test_only_the_parameters_a_job_declares_may_be_passed_in_every_format(document: dict[str, Any]) -> None:
    job = job_of(document)
    assert undeclared_parameters(job, {"day": "2026-01-01"}) == []
    problems = undeclared_parameters(job, {"day": "1", "nope": "1", "free": "1"})
    assert [(p.path, p.code) for p in problems] == [
        ("$.parameters.nope", "unknown-parameter"),
        ("$.parameters.free", "unknown-parameter"),  # a notebook's base parameter is not a job parameter
    ]
    assert problems[0].message == f"job {job.name!r} has no parameter 'nope' (defined: day)"


def test_a_job_that_declares_no_parameters_accepts_none() -> None:
    job = job_of({**NATIVE, "parameters": []})
    assert undeclared_parameters(job, {}) == []
    [problem] = undeclared_parameters(job, {"a.b": "1"})
    assert problem.path == "$.parameters['a.b']"
    assert problem.message == "job 'n' has no parameter 'a.b' (defined: none)"


def test_a_cancel_while_queued_says_so() -> None:
    queued = cancel_message({"reason": "user asked"}, when="while queued")
    assert queued == "canceled while queued: user asked"
    assert cancel_message(None, when="while queued") == "canceled while queued by request"
