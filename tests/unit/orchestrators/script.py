"""Scripted answers for the fake context: per durable name, a value, a function of the input, or a list
consumed one call at a time (the last entry repeats)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from jobclusters.run_request import RunRequest, TriggerInfo
from jobclusters.spec.model import Job
from tests.unit.orchestrators.fake_context import FakeTask

START = datetime(2026, 1, 1, tzinfo=UTC)


class Script:
    def __init__(self, **answers: Any) -> None:
        self.answers = {name: list(a) if isinstance(a, list) else [a] for name, a in answers.items()}
        self.seen: list[str] = []

    def __call__(self, task: FakeTask) -> Any:
        self.seen.append(task.name)
        if task.name not in self.answers:
            raise AssertionError(f"the script has no answer for {task.name}")
        queue = self.answers[task.name]
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(answer, Exception):
            raise answer
        return answer(task.input) if callable(answer) else answer


def request(job: dict[str, Any], run_id: str = "run-1", **fields: Any) -> RunRequest:
    model = Job.model_validate(job)
    return RunRequest(run_id=run_id, job_id=model.name, job=model, trigger=TriggerInfo(kind="cli"), **fields)


def spark(key: str, **task: Any) -> dict[str, Any]:
    return {"key": key, "payload": {"kind": "spark_python", "python_file": f"{key}.py"}, **task}


def command(key: str, **task: Any) -> dict[str, Any]:
    return {"key": key, "payload": {"kind": "command", "command_line": "echo hi"}, **task}


def batch_started(outcome: dict[str, Any] | None = None) -> dict[str, Any]:
    """`batch_start`'s answer to a quick first attempt: it ended as `outcome` (already recorded), or it
    still runs (None)."""
    checked = {"fanout": {"count": 1, "phase": "poll", "job_id": "job-1"}, "outcome": outcome}
    return {"prepare": {"job_id": "job-1", "pool_ref": None}, "checked": checked}


def ended_as(run_task_answer: Any) -> Any:
    """A `run_task` answer (a value, or a function of its input) as `batch_start`'s: the quick attempt of
    a one-command task ends as that task would have."""

    def answer(value: dict[str, Any]) -> dict[str, Any]:
        outcome = run_task_answer(value["run"]) if callable(run_task_answer) else run_task_answer
        return batch_started(outcome)

    return answer


def run_job_script(**answers: Any) -> Script:
    """A `Script` for `run_job`: a slot is claimed and given back, the request and the settings pass, rows
    and records are written, notifications sent, a cancel request taken; `answers` add or override."""
    admitted: dict[str, Any] = {
        "check_run_request": [[]],
        "claim_run_slot": {"claimed": True, "slot": 0, "holders": []},
        "check_job_settings": {"blocked": {}},
        "release_run_slot": True,
        "record_run": "RUNNING",
        "record_task_runs": 1,
        "notify_run": {},
        "request_run_cancel": 1,
    }
    return Script(**{**admitted, **answers})
