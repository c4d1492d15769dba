"""`for_each` and `for_each_chunk` driven on the fake context: every iteration runs once as `run_task` with
its input rendered, failures are counted and listed for a repair, a repair runs only the listed ones, and
no execution's history grows with the input count; `run_job` resolves the inputs or fails the task naming
the JSON path."""

from __future__ import annotations

from typing import Any

from jobclusters.execution import registry
from jobclusters.execution.control_messages import ForEachInput
from jobclusters.execution.messages import TaskRunInput
from jobclusters.run_request import RunRequest, TriggerInfo
from jobclusters.spec.loader import load_definition
from jobclusters.spec.model import Task
from jobclusters.spec.templating import TemplateContext
from orchestrators import for_each, run_job
from tests.unit.orchestrators.fake_context import FakeContext, FakeTask, drive
from tests.unit.orchestrators.script import START, Script, ended_as, request, run_job_script
from tests.unit.orchestrators.test_run_job_bounded_history import HISTORY_LIMIT, CountingContext

NESTED: dict[str, Any] = {
    "key": "one",
    "payload": {"kind": "command", "command_line": "process {{input.region}} {{job.parameters.day}}"},
}


def _for_each_task(inputs: Any, concurrency: int = 1) -> dict[str, Any]:
    return {
        "key": "regions",
        "source_path": "$.tasks[0]",
        "payload": {"kind": "for_each", "inputs": inputs, "concurrency": concurrency, "task": NESTED},
    }


def _input(inputs: list[Any], concurrency: int, indexes: list[int] | None = None) -> dict[str, Any]:
    task = Task.model_validate(_for_each_task(inputs, concurrency))
    run = TaskRunInput(run_id="run-1", control_id="run-1", job_id="j", job_name="j", task=task)
    context = TemplateContext(run_id="run-1", parameters={"day": "monday"})
    value = ForEachInput(
        task_run=run, context=context, inputs=inputs, indexes=indexes, concurrency=concurrency
    )
    return value.model_dump(mode="json")


class Iterations:
    """Answers `for_each_chunk` by driving the real chunk orchestrator, whose iterations (one-command:
    quick starts that end at once) this answers from `fails` (index -> message)."""

    def __init__(self, fails: dict[int, str] | None = None) -> None:
        self.fails = fails or {}
        self.commands: dict[int, str] = {}
        self.keys: list[str] = []
        self.chunk_events: list[int] = []
        self.chunk_concurrency: list[int] = []
        self.handed_over = 0

    def run_task(self, value: dict[str, Any]) -> dict[str, Any]:
        key = value["task"]["key"]
        index = int(key.rpartition("[")[2][:-1])
        self.keys.append(key)
        self.commands[index] = value["task"]["payload"]["command_line"]
        if index in self.fails:
            return {"state": "FAILED", "attempts": 1, "message": self.fails[index]}
        return {"state": "SUCCESS", "attempts": 1}

    def __call__(self, task: FakeTask) -> Any:
        if task.name == "record_task_runs":
            return 1
        assert task.name == "for_each_chunk", task.name
        self.chunk_concurrency.append(task.input["concurrency"])
        ctx = CountingContext(task.input, now=START, instance_id=task.instance_id or "chunk")
        script = Script(run_task=self.run_task, batch_start=ended_as(self.run_task))
        output = drive(for_each.for_each_chunk, ctx, script)
        self.chunk_events.append(ctx.history_events())
        self.handed_over += ctx.names("orchestrator").count("run_task")
        return output


def _run(value: dict[str, Any], answer: Iterations) -> tuple[dict[str, Any], list[CountingContext]]:
    executions = []
    while True:
        ctx = CountingContext(value, now=START, instance_id="run-1:regions:r0")
        executions.append(ctx)
        output = drive(for_each.for_each, ctx, answer)
        if ctx.continued_with is None:
            return output, executions
        value = ctx.continued_with


def test_each_input_runs_once_rendered_and_a_failed_one_fails_the_task_after_all_ran() -> None:
    inputs = [{"region": "eu"}, {"region": "us"}, {"region": "ap"}]
    answer = Iterations(fails={1: "exit 3"})

    output, _ = _run(_input(inputs, 2), answer)

    assert answer.commands == {0: "process eu monday", 1: "process us monday", 2: "process ap monday"}
    assert sorted(answer.keys) == ["regions[0]", "regions[1]", "regions[2]"]
    outcome = registry.FOR_EACH.read(output)
    assert outcome.state == "FAILED"
    assert outcome.message == "1 of 3 iterations failed; first: [1] exit 3"
    assert outcome.failed_inputs is not None and outcome.failed_inputs.selection().indexes == [1]
    assert outcome.details["iterations"] == {"total": 3, "succeeded": 2, "failed": 1}


def test_a_repair_runs_only_the_failed_iterations() -> None:
    answer = Iterations()

    output, _ = _run(_input([{"region": r} for r in "abcdef"], 3, indexes=[1, 4]), answer)

    assert sorted(answer.keys) == ["regions[1]", "regions[4]"]
    assert registry.FOR_EACH.read(output).state == "SUCCESS"


def test_10000_inputs_run_in_chunks_with_every_history_under_the_limit() -> None:
    answer = Iterations(fails={7: "bad", 9999: "worse"})

    output, executions = _run(_input([{"region": str(i)} for i in range(10_000)], 100), answer)

    assert len(answer.keys) == 10_000 and len(set(answer.keys)) == 10_000
    outcome = registry.FOR_EACH.read(output)
    assert outcome.details["iterations"] == {"total": 10_000, "succeeded": 9_998, "failed": 2}
    assert outcome.failed_inputs is not None and outcome.failed_inputs.selection().indexes == [7, 9999]
    assert len(executions) > 1
    assert max(ctx.history_events() for ctx in executions) < HISTORY_LIMIT
    assert max(answer.chunk_events) < HISTORY_LIMIT
    assert answer.handed_over == 0, "every iteration ended in its quick start: no run_task"
    assert set(answer.chunk_concurrency) == {25}, "four lanes share the concurrency of 100"
    rows = [r for ctx in executions for b in ctx.inputs("record_task_runs") for r in b["rows"]]
    assert [(r["task_key"], r["state"]) for r in rows] == [("regions", "RUNNING"), ("regions", "FAILED")]


def test_a_canceled_iteration_stops_new_ones_and_the_task_ends_canceled() -> None:
    answer = Iterations()
    original = answer.run_task

    def cancel_the_third(value: dict[str, Any]) -> dict[str, Any]:
        if value["task"]["key"] == "regions[2]":
            answer.keys.append("regions[2]")
            return {"state": "CANCELED", "attempts": 1, "message": "canceled: enough"}
        return original(value)

    answer.run_task = cancel_the_third  # type: ignore[method-assign]
    output, _ = _run(_input([{"region": str(i)} for i in range(200)], 1), answer)

    assert answer.keys == ["regions[0]", "regions[1]", "regions[2]"]
    assert registry.FOR_EACH.read(output).state == "CANCELED"


def _job_script(**answers: Any) -> Script:
    return run_job_script(**{"for_each": {"state": "SUCCESS", "attempts": 1}, **answers})


def test_run_job_resolves_the_inputs_from_a_job_parameter() -> None:
    job = {
        "name": "j",
        "parameters": [{"name": "regions", "default": '[{"region": "eu"}, {"region": "us"}]'}],
        "tasks": [_for_each_task("{{job.parameters.regions}}", 2)],
    }
    req = request(job)
    ctx = FakeContext(req.model_dump(mode="json"), now=START, instance_id=req.run_id)

    output = drive(run_job.run_job, ctx, _job_script())

    assert output["result"] == "SUCCESS"
    (started,) = ctx.inputs("for_each")
    assert started["inputs"] == [{"region": "eu"}, {"region": "us"}]
    assert started["concurrency"] == 2
    assert (
        started["task_run"]["task"]["payload"]["task"]["payload"]["command_line"]
        == NESTED["payload"]["command_line"]
    )


def test_run_job_fails_a_for_each_whose_inputs_are_not_an_array_naming_the_path() -> None:
    job = {"name": "j", "tasks": [_for_each_task('{"region": "eu"}')]}
    req = request(job)
    ctx = FakeContext(req.model_dump(mode="json"), now=START, instance_id=req.run_id)

    output = drive(run_job.run_job, ctx, _job_script())

    assert output["result"] == "FAILED"
    assert output["tasks"]["regions"]["message"] == (
        "$.tasks[0].payload.inputs: inputs is not a JSON array: got dict"
    )
    assert ctx.inputs("for_each") == []


def test_a_databricks_for_each_whose_inputs_render_to_no_array_names_its_home_path() -> None:
    doc = {
        "name": "j",
        "parameters": [{"name": "regions", "default": "eu,us"}],
        "tasks": [
            {
                "task_key": "each",
                "for_each_task": {
                    "inputs": "{{job.parameters.regions}}",
                    "task": {"task_key": "one", "spark_python_task": {"python_file": "one.py"}},
                },
                "existing_cluster_id": "c-1",
            }
        ],
    }
    job = load_definition(doc, required_tags=()).require()
    req = RunRequest(run_id="run-1", job_id="j", job=job, trigger=TriggerInfo(kind="cli"))
    ctx = FakeContext(req.model_dump(mode="json"), now=START, instance_id=req.run_id)

    output = drive(run_job.run_job, ctx, _job_script())

    assert output["tasks"]["each"]["message"].startswith("$.tasks[0].for_each_task.inputs: inputs is not")


def test_run_job_resolves_the_inputs_from_an_upstream_task_value() -> None:
    job = {
        "name": "j",
        "tasks": [
            {"key": "list", "payload": {"kind": "command", "command_line": "ls"}},
            {**_for_each_task("{{tasks.list.values.files}}"), "depends_on": [{"task_key": "list"}]},
        ],
    }
    req = request(job)
    ctx = FakeContext(req.model_dump(mode="json"), now=START, instance_id=req.run_id)
    listed = {"state": "SUCCESS", "attempts": 1, "task_values": {"files": [{"region": "a"}, {"region": "b"}]}}

    output = drive(run_job.run_job, ctx, _job_script(run_task=listed))

    assert output["result"] == "SUCCESS"
    (started,) = ctx.inputs("for_each")
    assert started["inputs"] == [{"region": "a"}, {"region": "b"}]
