"""Child-run references between definition files: where `run_job_task.job_id` / ExecutePipeline's
`referenceName` finds a file, and the refusal of files that (transitively) run themselves.

A reference names `<ref>.json|yaml|yml` beside the referring file, or `pipeline/<ref>.json` when the
referring file is at the root of an ADF/Synapse git layout. A reference that is no file may name a
registered job; that is resolved, and a cycle through registered jobs refused, when the run starts.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from jobclusters.spec.model import Job, RunJobPayload, Task
from jobclusters.spec.problems import Problem

FILE_SUFFIXES = (".json", ".yaml", ".yml")


class UnreadableChild(ValueError):
    """A referenced file that is not a valid job definition; the message lists its problems."""


_REFERENCE_KEYS = {"adf": "typeProperties.pipeline.referenceName", "databricks": "run_job_task.job_id"}


def reference_path(task: Task, source_format: str) -> str:
    """The JSON path of a task's child reference in its source document."""
    return f"{task.source_path or '$'}.{_REFERENCE_KEYS.get(source_format, 'payload.job_id')}"


def definition_file(base_dir: str | None, reference: str) -> Path | None:
    """`<ref>.json|yaml|yml` beside the parent, or in `pipeline/` when the parent is a git layout's root."""
    if not base_dir or "/" in reference or "\\" in reference or reference.startswith("."):
        return None
    folder = Path(base_dir)
    for where in (folder, folder / "pipeline"):
        for suffix in FILE_SUFFIXES:
            candidate = where / f"{reference}{suffix}"
            if candidate.is_file():
                return candidate
    return None


def load_child(path: Path) -> Job:
    from jobclusters.spec.loader import load_definition

    result = load_definition(path, required_tags=(), follow_references=False)
    if result.job is None or not result.ok:
        problems = "; ".join(f"{p.path}: {p.message}" for p in result.errors) or "not a job definition"
        raise UnreadableChild(f"{path.name} is not a valid job definition: {problems}")
    return result.job


def run_job_tasks(job: Job) -> Iterator[tuple[Task, RunJobPayload]]:
    for task in job.all_tasks():
        if isinstance(task.payload, RunJobPayload):
            yield task, task.payload


def file_reference_problems(path: Path, job: Job) -> list[Problem]:
    """An error at each reference in `path`'s document whose files lead back to `path`; a warning at each
    that names no file (it may be a registered job, known only when the run starts)."""
    start = path.resolve()

    def leads_back(file: Path, seen: set[Path]) -> bool:
        if file == start:
            return True
        if file in seen:
            return False
        seen.add(file)
        try:
            child = load_child(file)
        except UnreadableChild:
            return False
        for _, payload in run_job_tasks(child):
            nxt = definition_file(str(file.parent), payload.job_id)
            if nxt is not None and leads_back(nxt.resolve(), seen):
                return True
        return False

    problems = []
    for task, payload in run_job_tasks(job):
        target = definition_file(str(start.parent), payload.job_id)
        if target is None and "@" not in payload.job_id and "{{" not in payload.job_id:
            problems.append(
                Problem(
                    path=reference_path(task, job.source_format),
                    message=f"no {payload.job_id}.json|yaml beside this file: the run needs a registered job "
                    f"with id or name {payload.job_id!r}",
                    severity="warning",
                    code="unknown-child",
                )
            )
        elif target is not None and leads_back(target.resolve(), set()):
            problems.append(
                Problem(
                    path=reference_path(task, job.source_format),
                    message=f"{payload.job_id!r} runs this job again ({target.name} leads back to "
                    f"{start.name}): a job may not run itself",
                    code="cycle",
                )
            )
    return problems
