"""Child runs: what a `run_job_task` / ExecutePipeline names, and how the child's result becomes the task's.

A reference resolves to a registered job (by id, then by name), else to a definition file beside the
parent's (`jobclusters.spec.child_refs`). The child run is an ordinary run with its own id, started with a
`run_job` trigger whose detail names the parent run and task and carries the chain of job ids above it:
a job found in its own chain would run itself forever, so it is refused. When the definitions are files,
the same refusal is already a validation error at the reference's JSON path.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from typing import Any, Final

from jobclusters.run_request import RunRequest, TriggerInfo, derive_run_id, undeclared_parameters
from jobclusters.spec.child_refs import UnreadableChild, definition_file, load_child
from jobclusters.spec.model import Job, RunJobPayload, RunResult, TaskState
from jobclusters.tracking.definitions import JobDefinitionStore, job_id_from_name, job_id_problem

CHILD_TRIGGER: Final = "run_job"


class ChildJobError(ValueError):
    """The reference cannot start a child run; the message says what was looked for."""


@dataclass(frozen=True)
class ResolvedJob:
    job_id: str
    job: Job
    base_dir: str | None
    found_as: str


async def resolve(reference: str, base_dir: str | None, definitions: JobDefinitionStore) -> ResolvedJob:
    """Registered job by id, by name, then a file beside the parent."""
    if job_id_problem(reference) is None:
        found = await definitions.get(reference)
        if found is not None:
            return ResolvedJob(found.job_id, found.job, found.base_dir, f"registered job {reference!r}")
    for summary in await definitions.list():
        if summary.name == reference:
            found = await definitions.get(summary.job_id)
            if found is not None:
                found_as = f"registered job {found.job_id!r}"
                return ResolvedJob(found.job_id, found.job, found.base_dir, found_as)
    path = definition_file(base_dir, reference)
    if path is not None:
        try:
            job = load_child(path)
        except UnreadableChild as exc:
            raise ChildJobError(str(exc)) from exc
        return ResolvedJob(job_id_from_name(reference), job, str(path.parent), f"file {path}")
    beside = f" and no {reference}.json|yaml beside the parent definition" if base_dir else ""
    raise ChildJobError(f"no registered job with id or name {reference!r}{beside}")


def job_chain(trigger: TriggerInfo) -> list[str]:
    """The job ids above a run, outermost first (empty for a run no parent started)."""
    chain = trigger.detail.get("job_chain") if trigger.kind == CHILD_TRIGGER else None
    return [str(j) for j in chain] if isinstance(chain, list) else []


def cycle_message(chain: list[str], child_job_id: str) -> str | None:
    if child_job_id not in chain:
        return None
    loop = [*chain[chain.index(child_job_id) :], child_job_id]
    return f"job {child_job_id!r} runs itself ({' -> '.join(loop)}): refused"


def child_run_id(attempt_id: str) -> str:
    """One child per attempt: a retried start finds the run it already started."""
    return derive_run_id(attempt_id, "child")


def child_request(
    parent: RunRequest,
    task_key: str,
    attempt_id: str,
    payload: RunJobPayload,
    child: ResolvedJob,
) -> RunRequest:
    chain = [*job_chain(parent.trigger), parent.job_id]
    if refused := cycle_message(chain, child.job_id):
        raise ChildJobError(refused)
    parameters = {str(k): v for k, v in payload.job_parameters.items()}
    if unknown := undeclared_parameters(child.job, parameters):
        raise ChildJobError(f"job {child.job_id!r}: " + "; ".join(p.message for p in unknown))
    return RunRequest(
        run_id=child_run_id(attempt_id),
        job_id=child.job_id,
        job=child.job,
        parameters=parameters,
        trigger=TriggerInfo(
            kind=CHILD_TRIGGER,
            detail={
                "parent": f"{parent.run_id}/{task_key}",
                "parent_run_id": parent.run_id,
                "parent_task_key": task_key,
                "parent_job_id": parent.job_id,
                "job_chain": chain,
            },
            actor=f"run {parent.run_id}",
        ),
        base_dir=child.base_dir,
    )


_RESULT_STATES = {
    RunResult.SUCCESS.value: TaskState.SUCCESS,
    RunResult.SUCCESS_WITH_FAILURES.value: TaskState.SUCCESS,
    RunResult.CANCELED.value: TaskState.CANCELED,
}


@dataclass(frozen=True)
class ChildEnd:
    state: TaskState
    message: str | None
    values: dict[str, Any]


def child_end(child_id: str, runtime: str, output: Any) -> ChildEnd:
    """The parent task's end from the child's final status: success follows success, a cancel a cancel,
    anything else (failed, timed out, skipped, a crashed orchestration) fails the task and says why."""
    if isinstance(output, str):
        with contextlib.suppress(json.JSONDecodeError):
            output = json.loads(output)
    result = output.get("result") if isinstance(output, dict) else None
    values: dict[str, Any] = {"child_run_id": child_id, "result": result or runtime}
    if isinstance(output, dict) and "return_value" in output:
        values["pipelineReturnValue"] = output["return_value"]
    state = _RESULT_STATES.get(str(result)) if runtime == "Completed" else None
    if state == TaskState.SUCCESS:
        return ChildEnd(state, None, values)
    why = output.get("message") if isinstance(output, dict) else (output if isinstance(output, str) else None)
    said = f": {why}" if why else ""
    if state == TaskState.CANCELED:
        return ChildEnd(TaskState.CANCELED, f"child run {child_id} was canceled{said}", values)
    return ChildEnd(TaskState.FAILED, f"child run {child_id} ended {result or runtime}{said}", values)
