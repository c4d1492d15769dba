"""A fan-out shows one exit code: its first failed input's, else 0; its tasks get the staged job files."""

from __future__ import annotations

from typing import Any

from jobclusters.execution.exit_codes import fanout_exit_code
from jobclusters.execution.messages import AttemptInput, TaskRunInput
from jobclusters.spec.model import Task, TaskState
from orchestrators import batch_fanout
from tests.unit.orchestrators.fake_context import FakeContext, drive
from tests.unit.orchestrators.script import START, Script, command

POOL = {"mode": "onDemand", "pool_id": "p", "created": True}
DONE = {"active": 0, "running": 0, "completed": 3, "succeeded": 3}


def _attempt() -> dict[str, Any]:
    run = TaskRunInput(
        run_id="run-1", control_id="run-1", job_id="j", job_name="J", task=Task.model_validate(command("t"))
    )
    return AttemptInput(run=run, attempt=0, instance_id="run-1:t:r0:a0").model_dump(mode="json")


def _script(**more: Any) -> Script:
    answers: dict[str, Any] = {
        "plan_inputs": {"count": 3, "manifest": "manifests/m.json"},
        "batch_prepare": {"pool_ref": POOL, "job_id": "job-1", "job_files": "jobclusters-files-ab"},
        "batch_add_chunk": lambda inp: {"added": inp["end"] - inp["start"]},
        "batch_poll": DONE,
        "batch_finish": {"pool_deleted": True},
    }
    return Script(**{**answers, **more})


def _run_to_end(script: Script) -> tuple[FakeContext, dict[str, Any]]:
    first = FakeContext(_attempt(), now=START)
    drive(batch_fanout.batch_fanout, first, script)
    last = FakeContext(first.continued_with, now=first.now)
    return first, drive(batch_fanout.batch_fanout, last, script)


def test_every_input_succeeding_shows_exit_code_0_and_the_tasks_get_the_job_files() -> None:
    first, output = _run_to_end(_script())
    assert output["state"] == "SUCCESS" and output["exit_code"] == 0
    assert first.inputs("batch_add_chunk")[0]["job_files"] == "jobclusters-files-ab"


def test_a_failed_input_shows_its_exit_code_the_first_failed_one() -> None:
    failed = [
        {"index": 1, "task_id": "t-1", "exit_code": 4, "message": "exit code 4"},
        {"index": 2, "task_id": "t-2", "exit_code": 9},
    ]
    _, output = _run_to_end(
        _script(
            batch_poll={**DONE, "succeeded": 1, "failed": 2},
            batch_finish={"failed_tasks": failed, "failed_count": 2},
        )
    )
    assert output["state"] == "FAILED" and output["exit_code"] == 4


def test_no_exit_code_when_nothing_ran_to_an_exit() -> None:
    assert fanout_exit_code(TaskState.SUCCESS, [], 0) is None
    assert fanout_exit_code(TaskState.CANCELED, [], 3) is None
    assert fanout_exit_code(TaskState.FAILED, [{"task_id": "t-0", "exit_code": None}], 3) is None
    assert fanout_exit_code(TaskState.TIMEDOUT, [{"task_id": "t-0", "exit_code": 137}], 3) == 137


def test_the_exit_code_reaches_the_task_run_row() -> None:
    from activities.tracking import task_record
    from jobclusters.execution.messages import TaskOutcome
    from jobclusters.execution.task_rows import task_row

    run = TaskRunInput(
        run_id="run-1", control_id="run-1", job_id="j", job_name="J", task=Task.model_validate(command("t"))
    )
    outcome = TaskOutcome(state=TaskState.FAILED, message="exit code 3", exit_code=3)
    (row,) = task_row(run, TaskState.FAILED, 0, outcome).rows
    assert row.exit_code == 3 and task_record(row).exit_code == 3
