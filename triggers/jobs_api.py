"""Register, list, read and delete job definitions. A definition is validated with the same
`load_definition` the CLI uses; an invalid one is refused with each problem's JSON path."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from jobclusters.quartz import QuartzSchedule
from jobclusters.services import factory
from jobclusters.services.factory import TriggerServices
from jobclusters.spec import Job, LoadResult, load_definition
from jobclusters.spec.model import Schedule
from jobclusters.tracking.definitions import JobDefinitionStore, job_id_from_name, job_id_problem
from triggers.api_support import ApiError, ApiResult, field_of, problem_list
from triggers.blob_containers import unknown_container_warnings


def split_envelope(body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """`{"definition": {...}, "job_id", "format", "base_dir"}`, or the definition itself as the body."""
    if isinstance(body.get("definition"), dict):
        return body["definition"], body
    if "definition" in body:
        raise ApiError(
            400,
            "invalid_field",
            "$.definition: expected an object (the job definition)",
            [{"path": "$.definition", "message": "expected an object", "code": "type"}],
        )
    return body, {}


def validate_definition(
    document: dict[str, Any], options: dict[str, Any], services: TriggerServices, *, under: str
) -> tuple[Job, LoadResult]:
    """The job, or a 400 whose problems carry JSON paths into the submitted body (`under` prefixes them
    when the definition travelled inside an envelope)."""
    fmt = field_of(options, "format", str)
    result = load_definition(
        document,
        format=fmt,
        strict=bool(field_of(options, "strict", bool, False)),
        required_tags=services.settings.required_cost_tags,
    )
    if not result.ok or result.job is None:
        problems = problem_list(result.errors) or [
            {"path": "$", "message": "not a job definition", "code": "not-a-job"}
        ]
        if under:
            for problem in problems:
                problem["path"] = under + problem["path"][1:]
        raise ApiError(
            400,
            "invalid_definition",
            f"the job definition has {len(problems)} error(s); first: "
            f"{problems[0]['path']}: {problems[0]['message']}",
            problems,
        )
    return result.job, result


def chosen_job_id(options: dict[str, Any], job: Job, explicit: str | None = None) -> str:
    job_id = explicit or field_of(options, "job_id", str) or job_id_from_name(job.name)
    problem = job_id_problem(job_id)
    if problem:
        raise ApiError(
            400,
            "invalid_job_id",
            f"job id {job_id!r}: {problem}",
            [{"path": "$.job_id", "message": problem, "code": "job-id"}],
        )
    return str(job_id)


async def register_job(services: TriggerServices, body: dict[str, Any]) -> ApiResult:
    document, options = split_envelope(body)
    job, result = validate_definition(document, options, services, under="$.definition" if options else "")
    job_id = chosen_job_id(options, job)
    existed = await services.definitions.get(job_id) is not None
    summary = await services.definitions.put(
        job_id, job, document, format=result.format, base_dir=field_of(options, "base_dir", str)
    )
    payload = summary.model_dump(mode="json")
    unknown = await unknown_container_warnings(job, factory.storage_account(), format=result.format)
    payload["warnings"] = problem_list([*result.warnings, *unknown])
    return ApiResult(200 if existed else 201, payload)


NEXT_FIRE_TIMES = 5


def next_fire_times(schedule: Schedule | None, now: datetime, count: int = NEXT_FIRE_TIMES) -> list[str]:
    """When the schedule trigger will start the job next (UTC), so people need not read Quartz; none while
    paused or for an expression that no longer fires (a past year field). A stored schedule that no
    longer parses shows no times rather than failing the listing; the scheduler logs it."""
    if schedule is None or schedule.pause_status == "PAUSED":
        return []
    try:
        quartz = QuartzSchedule.parse(schedule.quartz_cron_expression, schedule.timezone_id)
    except ValueError:
        return []
    fires: list[str] = []
    after = now
    while len(fires) < count:
        fire = quartz.next_fire(after)
        if fire is None:
            break
        fires.append(fire.isoformat())
        after = fire
    return fires


async def list_jobs(store: JobDefinitionStore, now: datetime | None = None) -> ApiResult:
    at = now or datetime.now(UTC)
    jobs = await store.list()
    return ApiResult(
        200,
        {
            "jobs": [
                {**j.model_dump(mode="json"), "next_fire_times": next_fire_times(j.schedule, at)}
                for j in jobs
            ]
        },
    )


async def get_job(store: JobDefinitionStore, job_id: str, now: datetime | None = None) -> ApiResult:
    definition = await store.get(job_id)
    if definition is None:
        raise ApiError(404, "job_not_found", f"no registered job {job_id!r}")
    payload = definition.model_dump(mode="json")
    payload["next_fire_times"] = next_fire_times(definition.schedule, now or datetime.now(UTC))
    return ApiResult(200, payload)


async def delete_job(store: JobDefinitionStore, job_id: str) -> ApiResult:
    if not await store.delete(job_id):
        raise ApiError(404, "job_not_found", f"no registered job {job_id!r}")
    return ApiResult(200, {"job_id": job_id, "deleted": True})
