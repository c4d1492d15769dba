"""`load_definition`: read a file or mapping, pick the importer, validate, lint. One call for everyone."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from jobclusters.settings import DEFAULT_COST_TAGS
from jobclusters.spec.importers import ALIASES, IMPORTERS, NOT_JOBS, detect_format, format_names
from jobclusters.spec.importers.native import json_path
from jobclusters.spec.model import Job
from jobclusters.spec.problems import LoadResult, Problem, Problems
from jobclusters.spec.reader import Node
from jobclusters.spec.secrets_lint import lint_secrets, redact
from jobclusters.spec.validation import check_cost_tags, validate_job, validate_references

#: warning codes `strict` turns into errors: policy findings and fields the home format does not define
STRICT_CODES = frozenset({"cost-tags", "unknown-key"})


class _SourceError(Exception):
    pass


def read_document(source: Path | str) -> Any:
    """JSON or YAML, by content (JSON first; YAML is a superset, so its errors are kept for the report)."""
    path = Path(source)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise _SourceError(f"cannot read {path}: {exc.__class__.__name__}: {exc}") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as json_error:
        if text.lstrip().startswith(("{", "[")):
            raise _SourceError(
                f"invalid JSON at line {json_error.lineno} column {json_error.colno}: {json_error.msg}"
            ) from json_error
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1} column {mark.column + 1}" if mark is not None else ""
        raise _SourceError(f"invalid YAML{where}: {getattr(exc, 'problem', exc)}") from exc


def load_definition(
    source: Path | str | Mapping[str, Any],
    *,
    format: str | None = None,
    strict: bool = False,
    required_tags: Sequence[str] | None = None,
    follow_references: bool = True,
) -> LoadResult:
    """Read, import, validate and lint one job definition. Never raises on bad input: every finding is a
    `Problem` in the result. `required_tags` None means the default policy (Project, Environment,
    CostCenter, Owner); pass `()` to switch the policy off."""
    problems = Problems()
    if isinstance(source, Mapping):
        doc: Any = source
    else:
        try:
            doc = read_document(source)
        except _SourceError as exc:
            return LoadResult(
                errors=[Problem(path="$", message=str(exc), code="read")], format=format or "unknown"
            )
    if not isinstance(doc, Mapping):
        kind = type(doc).__name__ if doc is not None else "an empty document"
        return LoadResult(
            errors=[
                Problem(path="$", message=f"expected a JSON/YAML object at the top, got {kind}", code="type")
            ],
            format=format or "unknown",
        )
    chosen = ALIASES.get(format, format) if format else detect_format(doc)
    if chosen is None:
        problems.error(
            "$",
            "unrecognised definition: expected a native job, Databricks job settings, a Batch pool or job, "
            "a Synapse/ADF pipeline, an HDInsight cluster, a Synapse Spark pool or a Livy batch",
            "format",
        )
        return _finish(None, problems, "unknown", strict)
    if chosen not in IMPORTERS and chosen not in NOT_JOBS:
        problems.error(
            "$", f"unknown format {format!r}: expected one of {', '.join(format_names())}", "format"
        )
        return _finish(None, problems, chosen, strict)
    findings = lint_secrets(doc, chosen)
    for finding in findings:
        problems.error(finding.path, finding.message, f"secret:{finding.kind}")
    doc = redact(doc, {finding.path for finding in findings})
    if chosen in NOT_JOBS:
        problems.warning(
            "$", f"{NOT_JOBS[chosen][1]}, not a job definition: linted, nothing to run", "not-a-job"
        )
        return _finish(None, problems, chosen, strict)
    job = _import(doc, chosen, problems)
    if job is not None:
        validate_job(
            job, problems, settings_path="$.settings" if isinstance(doc.get("settings"), Mapping) else "$"
        )
        validate_references(job, doc, problems, adf_syntax=chosen in {"adf", "native"})
        check_cost_tags(job, DEFAULT_COST_TAGS if required_tags is None else tuple(required_tags), problems)
        from jobclusters.cost.budget import check_budget_tags

        check_budget_tags(
            job, problems, "$.settings.tags" if isinstance(doc.get("settings"), Mapping) else "$.tags"
        )
        if follow_references and not isinstance(source, Mapping):
            from jobclusters.spec.child_refs import file_reference_problems
            from jobclusters.spec.importers.adf_resources import dataset_reference_problems

            problems.items.extend(file_reference_problems(Path(source), job))
            problems.items.extend(dataset_reference_problems(Path(source), job))
    return _finish(job, problems, chosen, strict)


def _import(doc: Mapping[str, Any], chosen: str, problems: Problems) -> Job | None:
    try:
        return IMPORTERS[chosen](Node(doc, "$", problems))
    except ValidationError as exc:
        # A value the reader let through but the model refuses: report it, never crash.
        for error in exc.errors(include_url=False):
            loc = [p for p in error["loc"] if isinstance(p, int | str)]
            problems.error(json_path(doc, loc), f"{'.'.join(map(str, loc))}: {error['msg']}", "schema")
        return None


def _finish(job: Job | None, problems: Problems, chosen: str, strict: bool) -> LoadResult:
    errors: list[Problem] = []
    warnings: list[Problem] = []
    seen: set[tuple[str, str, str]] = set()
    for problem in problems.items:
        if (problem.path, problem.message, problem.severity) in seen:
            continue
        seen.add((problem.path, problem.message, problem.severity))
        if problem.severity == "warning" and strict and problem.code in STRICT_CODES:
            problem = problem.model_copy(update={"severity": "error"})
        (errors if problem.severity == "error" else warnings).append(problem)
    return LoadResult(job=job, errors=errors, warnings=warnings, format=chosen)
