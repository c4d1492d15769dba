"""`{{task_retry_count}}` and `{{task.execution_count}}` are rendered per attempt: the run keeps them
literally, `run_task` fills them in."""

from __future__ import annotations

from jobclusters.execution.messages import TaskRunInput
from jobclusters.execution.rendering import template_context
from jobclusters.spec.model import Task
from jobclusters.spec.templating import render
from orchestrators import run_task
from tests.unit.orchestrators.fake_context import FakeContext, drive
from tests.unit.orchestrators.script import START, Script, request


def test_each_attempt_sees_its_own_task_retry_count() -> None:
    task = {
        "key": "t",
        "payload": {
            "kind": "spark_python",
            "python_file": "a.py",
            "parameters": ["--try={{ task_retry_count }}", "--run={{task.execution_count}}"],
        },
        "retry": {"max_retries": 2},
    }
    req = request({"name": "j", "tasks": [task]})
    context = template_context(req, start=START, now=START, task_key="t", task_run_id="r", outcomes={})
    rendered = Task.model_validate(render(Task.model_validate(task).model_dump(mode="json"), context))
    assert rendered.payload.parameters == ["--try={{task_retry_count}}", "--run={{task.execution_count}}"]  # type: ignore[union-attr]
    run = TaskRunInput(run_id="run-1", control_id="run-1", job_id="j", job_name="J", task=rendered)
    ctx = FakeContext(run.model_dump(mode="json"), now=START, instance_id="run-1:t:r0")
    failed = {"state": "FAILED", "message": "exit code 1"}
    drive(
        run_task.run_task, ctx, Script(cluster_run=[failed, failed, {"state": "SUCCESS"}], record_task_runs=1)
    )
    seen = [c.input["run"]["task"]["payload"]["parameters"] for c in ctx.calls if c.kind == "orchestrator"]
    assert seen == [["--try=0", "--run=1"], ["--try=1", "--run=2"], ["--try=2", "--run=3"]]


def test_a_task_decided_inline_renders_retry_count_0() -> None:
    task = {
        "key": "c",
        "payload": {"kind": "condition", "op": "EQUAL_TO", "left": "{{task_retry_count}}", "right": "0"},
    }
    req = request({"name": "j", "tasks": [task]})
    context = template_context(req, start=START, now=START, task_key="c", task_run_id="r", outcomes={})
    assert render(task["payload"], context)["left"] == "0"
