"""A configuration error is permanent: the task fails after one attempt with a one-line reason naming
the setting, whatever shape the failure crossed the durable boundary in; other failures still retry."""

from __future__ import annotations

from typing import Any

import pytest

from jobclusters.execution.messages import TaskRunInput
from jobclusters.execution.retry import may_retry, permanent_failure
from jobclusters.settings import ConfigurationError
from jobclusters.spec.model import RetryPolicy, Task, TaskState
from orchestrators import run_job, run_task
from tests.unit.orchestrators.fake_context import FakeContext, drive
from tests.unit.orchestrators.script import START, Script, request, spark

REASON = str(ConfigurationError("DATABRICKS_HOST", "Databricks", "the workspace URL"))
RETRY = {"max_retries": 3, "min_retry_interval_millis": 60_000}
TRACE = 'Traceback (most recent call last):\n  File "/srv/app/jobclusters/services/databricks.py", line 9\n'

SHAPES = [
    ("bare", REASON),
    ("mapped by the submit activity", f"the task cannot be mapped to a databricks run: {REASON}"),
    (
        "an activity exception with its stack trace",
        f"Activity function 'cluster_submit' failed: ConfigurationError: {REASON}\n{TRACE}",
    ),
]


@pytest.mark.parametrize("message", [s[1] for s in SHAPES], ids=[s[0] for s in SHAPES])
def test_a_configuration_error_in_any_shape_is_permanent_and_reads_as_its_one_line(message: str) -> None:
    assert permanent_failure(message) == REASON
    assert not may_retry(RetryPolicy.model_validate(RETRY), 0, TaskState.FAILED, message)


@pytest.mark.parametrize("message", [None, "exit code 1", "Databricks jobs/runs/submit failed: 503"])
def test_other_failures_stay_transient(message: str | None) -> None:
    assert permanent_failure(message) is None
    assert may_retry(RetryPolicy.model_validate(RETRY), 0, TaskState.FAILED, message)


def _run_input(task: dict[str, Any]) -> dict[str, Any]:
    run = TaskRunInput(
        run_id="run-1", control_id="run-1", job_id="j", job_name="J", task=Task.model_validate(task)
    )
    return run.model_dump(mode="json")


@pytest.mark.parametrize("shape", ["outcome", "exception"])
def test_run_task_fails_a_configuration_error_after_one_attempt_without_a_retry_timer(shape: str) -> None:
    ctx = FakeContext(_run_input(spark("t", retry=RETRY)), now=START, instance_id="run-1:t:r0")
    message = SHAPES[2][1]
    attempt: Any = RuntimeError(message) if shape == "exception" else {"state": "FAILED", "message": message}

    output = drive(run_task.run_task, ctx, Script(cluster_run=attempt, record_task_runs=1))

    assert (output["state"], output["attempts"], output["message"]) == ("FAILED", 1, REASON)
    assert ctx.timers == [] and ctx.names("orchestrator") == ["cluster_run"]
    rows = [r["rows"][0] for r in ctx.inputs("record_task_runs")]
    assert [(r["attempt"], r["state"], r["message"]) for r in rows] == [
        (1, "RUNNING", None),
        (1, "FAILED", REASON),
    ]


def test_run_job_fails_a_blocked_task_when_ready_without_starting_it() -> None:
    req = request(
        {"name": "chain", "tasks": [spark("a"), spark("b", depends_on=[{"task_key": "a"}]), spark("c")]}
    )
    ctx = FakeContext(req.model_dump(mode="json"), now=START, instance_id=req.run_id)
    script = Script(
        claim_run_slot={"claimed": True, "slot": 0, "holders": []},
        check_job_settings={"blocked": {"a": REASON}},
        check_run_request=[[]],
        release_run_slot=True,
        record_run="RUNNING",
        record_task_runs=1,
        notify_run={},
        run_task={"state": "SUCCESS", "attempts": 1},
    )

    output = drive(run_job.run_job, ctx, script)

    assert output["result"] == "FAILED"
    states = {k: (t["state"], t["message"]) for k, t in output["tasks"].items()}
    assert states == {"a": ("FAILED", REASON), "b": ("UPSTREAM_FAILED", None), "c": ("SUCCESS", None)}
    assert [c.input["task"]["key"] for c in ctx.calls if c.name == "run_task"] == ["c"]
    assert ctx.inputs("check_job_settings") == [{"job": req.job.model_dump(mode="json")}]
    rows = [
        row for batch in ctx.inputs("record_task_runs") for row in batch["rows"] if row["task_key"] == "a"
    ]
    assert [(r["attempt"], r["state"], r["message"]) for r in rows] == [(1, "FAILED", REASON)]
