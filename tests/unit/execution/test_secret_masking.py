"""The values of the app settings a task's environment references are masked in what its logs show."""

from __future__ import annotations

from jobclusters.execution.secret_masking import MASK, mask_strings, task_secret_values
from jobclusters.spec import Job

JOB = Job.model_validate(
    {
        "name": "j",
        "environment": {"DB_PASSWORD": "%DB_PASSWORD%", "MODE": "prod"},
        "tasks": [
            {
                "key": "a",
                "environment": {"TOKEN": "%API_TOKEN%", "SHORT": "%SHORT%"},
                "payload": {"kind": "command", "command_line": "x"},
            },
            {"key": "b", "payload": {"kind": "command", "command_line": "x"}},
        ],
    }
)
SETTINGS = {"DB_PASSWORD": "hunter2-db", "API_TOKEN": "tok-123456", "SHORT": "on", "OTHER": "not-given"}


def test_the_task_gets_the_job_and_its_own_referenced_settings() -> None:
    assert task_secret_values(JOB, "a", SETTINGS) == ["hunter2-db", "tok-123456"]
    assert task_secret_values(JOB, "b", SETTINGS) == ["hunter2-db"]


def test_every_string_of_the_answer_is_masked() -> None:
    answer = {
        "logs": {"stdout": "pw=hunter2-db token=tok-123456 mode on"},
        "exit_code": 0,
        "list": ["tok-123456"],
    }
    masked = mask_strings(answer, task_secret_values(JOB, "a", SETTINGS))
    assert masked == {"logs": {"stdout": f"pw={MASK} token={MASK} mode on"}, "exit_code": 0, "list": [MASK]}
