"""Child-run references: resolution (registered id, name, file beside, git layout), the refusal of a job
that runs itself (at start from the chain, at validation from files), and the parent task's end."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from jobclusters.execution.child_runs import (
    ChildJobError,
    ResolvedJob,
    child_end,
    child_request,
    cycle_message,
    job_chain,
    resolve,
)
from jobclusters.run_request import RunRequest, TriggerInfo
from jobclusters.spec import load_definition
from jobclusters.spec.model import Job, JobParameter, RunJobPayload, Task, TaskState
from jobclusters.tracking.definitions import JobDefinition, JobSummary

NOW = "2026-01-01T00:00:00+00:00"


class Definitions:
    def __init__(self, *jobs: tuple[str, Job]) -> None:
        self.jobs = {
            job_id: JobDefinition(
                job_id=job_id,
                name=job.name,
                format="native",
                registered_at=NOW,
                updated_at=NOW,
                job=job,
                source={},
                base_dir="/registered",
            )
            for job_id, job in jobs
        }

    async def get(self, job_id: str) -> JobDefinition | None:
        return self.jobs.get(job_id)

    async def list(self) -> list[JobSummary]:
        return [
            JobSummary.model_validate(d.model_dump(exclude={"job", "source"})) for d in self.jobs.values()
        ]


def _job(name: str, *children: str, parameters: tuple[str, ...] = ()) -> Job:
    tasks = [Task(key=f"call_{c}", payload=RunJobPayload(job_id=c)) for c in children]
    return Job(name=name, tasks=tasks, parameters=[JobParameter(name=p) for p in parameters])


def _resolve(reference: str, base_dir: str | None, store: Definitions) -> ResolvedJob:
    return asyncio.run(resolve(reference, base_dir, store))  # type: ignore[arg-type]


def _write(path: Path, doc: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def _native(name: str, *children: str) -> dict[str, Any]:
    return {
        "format": "jobclusters/v1",
        "name": name,
        "tasks": [{"key": f"call_{c}", "payload": {"kind": "run_job", "job_id": c}} for c in children],
    }


def test_a_reference_names_a_registered_job_by_id_then_by_name(tmp_path: Path) -> None:
    store = Definitions(("etl-1", _job("Nightly ETL")), ("other", _job("other")))
    assert _resolve("etl-1", None, store).job.name == "Nightly ETL"
    by_name = _resolve("Nightly ETL", None, store)
    assert (by_name.job_id, by_name.base_dir) == ("etl-1", "/registered")


def test_a_reference_that_is_no_registered_job_is_the_file_beside_the_parent(tmp_path: Path) -> None:
    _write(tmp_path / "child.json", _native("child"))
    found = _resolve("child", str(tmp_path), Definitions())
    assert (found.job.name, found.job_id, found.base_dir) == ("child", "child", str(tmp_path))


def test_an_adf_git_layout_resolves_pipeline_files_from_its_root(tmp_path: Path) -> None:
    _write(tmp_path / "pipeline" / "load_day.json", {"name": "load_day", "properties": {"activities": []}})
    found = _resolve("load_day", str(tmp_path), Definitions())
    assert found.base_dir == str(tmp_path / "pipeline")


@pytest.mark.parametrize("reference", ["missing", "../escape", "a/b"])
def test_an_unknown_reference_says_what_was_looked_for(tmp_path: Path, reference: str) -> None:
    with pytest.raises(ChildJobError, match="no registered job with id or name"):
        _resolve(reference, str(tmp_path), Definitions())


def test_an_invalid_child_file_names_its_problems(tmp_path: Path) -> None:
    (tmp_path / "broken.json").write_text('{"format": "jobclusters/v1", "tasks": "nope"}')
    with pytest.raises(ChildJobError, match="broken.json is not a valid job definition"):
        _resolve("broken", str(tmp_path), Definitions())


def _parent(job_id: str, chain: list[str] | None = None) -> RunRequest:
    trigger = TriggerInfo(kind="run_job", detail={"job_chain": chain}) if chain else TriggerInfo(kind="cli")
    return RunRequest(run_id="run-parent", job_id=job_id, job=_job(job_id), trigger=trigger)


def test_the_child_request_links_to_its_parent_and_carries_the_chain() -> None:
    child = ResolvedJob("c", _job("c", parameters=("day",)), "/x", "registered job 'c'")
    payload = RunJobPayload(job_id="c", job_parameters={"day": "2026-01-01"})
    request = child_request(_parent("b", ["a"]), "call", "run-parent:call:0:0", payload, child)
    assert request.trigger.kind == "run_job"
    assert request.trigger.detail["parent_run_id"] == "run-parent"
    assert request.trigger.detail["parent_task_key"] == "call"
    assert job_chain(request.trigger) == ["a", "b"]
    assert request.parameters == {"day": "2026-01-01"}
    assert request.base_dir == "/x"
    again = child_request(_parent("b", ["a"]), "call", "run-parent:call:0:0", payload, child)
    assert again.run_id == request.run_id  # a retried start finds the child it started


@pytest.mark.parametrize(
    ("chain", "parent", "child", "loop"),
    [
        ([], "a", "a", "a -> a"),
        (["a"], "b", "a", "a -> b -> a"),
        (["top", "a", "b"], "c", "b", "b -> c -> b"),
    ],
)
def test_a_job_in_its_own_chain_is_refused(chain: list[str], parent: str, child: str, loop: str) -> None:
    resolved = ResolvedJob(child, _job(child), None, "registered")
    with pytest.raises(ChildJobError, match=f"runs itself \\({loop}\\): refused"):
        child_request(_parent(parent, chain), "call", "att", RunJobPayload(job_id=child), resolved)
    assert cycle_message(["x"], "y") is None


def test_an_undeclared_child_parameter_is_refused() -> None:
    resolved = ResolvedJob("c", _job("c"), None, "registered")
    with pytest.raises(ChildJobError, match="has no parameter 'day'"):
        child_request(
            _parent("p"), "call", "att", RunJobPayload(job_id="c", job_parameters={"day": 1}), resolved
        )


@pytest.mark.parametrize(
    ("runtime", "output", "state"),
    [
        ("Completed", {"result": "SUCCESS"}, TaskState.SUCCESS),
        ("Completed", json.dumps({"result": "SUCCESS_WITH_FAILURES"}), TaskState.SUCCESS),
        ("Completed", {"result": "CANCELED", "message": "canceled by me"}, TaskState.CANCELED),
        ("Completed", {"result": "FAILED", "message": "t: boom"}, TaskState.FAILED),
        ("Completed", {"result": "TIMEDOUT"}, TaskState.FAILED),
        ("Completed", {"result": "SKIPPED"}, TaskState.FAILED),
        ("Failed", "orchestrator crashed", TaskState.FAILED),
        ("Terminated", None, TaskState.FAILED),
    ],
)
def test_the_parent_task_follows_the_childs_result(runtime: str, output: Any, state: TaskState) -> None:
    end = child_end("run-kid", runtime, output)
    assert end.state == state
    assert end.values["child_run_id"] == "run-kid"
    if state != TaskState.SUCCESS:
        assert end.message is not None and "run-kid" in end.message


def test_a_childs_return_value_is_the_pipeline_return_value() -> None:
    end = child_end("k", "Completed", {"result": "SUCCESS", "return_value": {"rows": 3}})
    assert end.values["pipelineReturnValue"] == {"rows": 3}


def test_files_that_run_themselves_are_a_validation_error_at_the_reference(tmp_path: Path) -> None:
    a = _write(tmp_path / "a.json", _native("a", "b"))
    _write(tmp_path / "b.yaml", _native("b", "c"))
    _write(tmp_path / "c.json", _native("c", "a"))
    result = load_definition(a, required_tags=())
    cycles = [p for p in result.errors if p.code == "cycle"]
    assert [p.path for p in cycles] == ["$.tasks[0].payload.job_id"]
    assert "'b' runs this job again (b.yaml leads back to a.json)" in cycles[0].message


def test_a_databricks_job_that_runs_itself_is_refused_at_run_job_task(tmp_path: Path) -> None:
    doc = {"name": "nightly", "tasks": [{"task_key": "again", "run_job_task": {"job_id": "nightly"}}]}
    result = load_definition(_write(tmp_path / "nightly.json", doc), required_tags=())
    (cycle,) = [p for p in result.errors if p.code == "cycle"]
    assert cycle.path == "$.tasks[0].run_job_task.job_id"


def test_an_adf_pipeline_that_executes_itself_is_refused_at_its_reference(tmp_path: Path) -> None:
    doc = {
        "name": "self",
        "properties": {
            "activities": [
                {
                    "name": "again",
                    "type": "ExecutePipeline",
                    "typeProperties": {"pipeline": {"referenceName": "self", "type": "PipelineReference"}},
                }
            ]
        },
    }
    path = _write(tmp_path / "pipeline" / "self.json", doc)
    result = load_definition(path, required_tags=())
    (cycle,) = [p for p in result.errors if p.code == "cycle"]
    assert cycle.path == "$.properties.activities[0].typeProperties.pipeline.referenceName"


def test_references_that_are_no_files_and_chains_without_loops_are_valid(tmp_path: Path) -> None:
    a = _write(tmp_path / "a.json", _native("a", "b", "registered-elsewhere"))
    _write(tmp_path / "b.json", _native("b"))
    assert [p for p in load_definition(a, required_tags=()).errors if p.code == "cycle"] == []


def test_a_reference_to_no_file_is_a_warning_naming_the_registered_job_it_needs(tmp_path: Path) -> None:
    a = _write(tmp_path / "a.json", _native("a", "elsewhere"))
    result = load_definition(a, required_tags=())
    (warning,) = [p for p in result.warnings if p.code == "unknown-child"]
    assert warning.path == "$.tasks[0].payload.job_id"
    assert "registered job with id or name 'elsewhere'" in warning.message
    assert result.ok
