"""Start, read, list, cancel and repair runs.

A start answers 202 with the durable client's status URLs plus the run id (`http_api` builds that from
`ApiResult.started_run`). Repairs are new `run_job` instances numbered 1, 2, ... after the original run:
`repair_run_id(<original>, n)`, each reading the task states of the latest one before it.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from azure.core.exceptions import HttpResponseError

from jobclusters.failed_inputs import rerun_inputs
from jobclusters.run_request import (
    CANCEL_EVENT,
    RepairInfo,
    RunRequest,
    TriggerInfo,
    repair_run_id,
    undeclared_parameters,
)
from jobclusters.services.factory import TriggerServices
from jobclusters.spec import Job, TaskState, repair_set
from jobclusters.tracking.read_repair import repair_tracking
from triggers.api_support import ApiError, ApiResult, bad_query_value, field_of, problem_list
from triggers.jobs_api import chosen_job_id, split_envelope, validate_definition
from triggers.run_view import (
    TERMINAL_RUNTIME,
    RunView,
    build_view,
    progress_of,
    request_of,
    superseding_run_id,
)
from triggers.starter import new_run_request, start_run, status_name

MAX_PAGE = 200
DEFAULT_WINDOW = timedelta(days=7)  # runs are indexed by day: a listing reads one partition per day
MAX_WINDOW = timedelta(days=366)
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


def _parameters(job: Job, body: dict[str, Any]) -> dict[str, Any]:
    parameters = dict(field_of(body, "parameters", dict) or {})
    problems = undeclared_parameters(job, parameters)
    if problems:
        raise ApiError(400, "unknown_parameter", "; ".join(str(p) for p in problems), problem_list(problems))
    return parameters


def _identity(body: dict[str, Any], kind: str) -> tuple[str, ...] | None:
    key = field_of(body, "idempotency_key", str)
    return (kind, key) if key else None


def _trigger(body: dict[str, Any]) -> TriggerInfo:
    """The CLI says so (`"source": "cli"`), so `runs` can tell its runs from other HTTP callers'."""
    kind: Literal["http", "cli"] = "cli" if field_of(body, "source", str) == "cli" else "http"
    return TriggerInfo(kind=kind, detail={}, actor=field_of(body, "actor", str))


async def start_registered(
    services: TriggerServices, client: Any, job_id: str, body: dict[str, Any]
) -> ApiResult:
    definition = await services.definitions.get(job_id)
    if definition is None:
        raise ApiError(404, "job_not_found", f"no registered job {job_id!r}")
    request = new_run_request(
        job_id=job_id,
        job=definition.job,
        trigger=_trigger(body),
        identity=_identity(body, "http"),
        parameters=_parameters(definition.job, body),
        base_dir=definition.base_dir,
    )
    return await _start(client, request)


async def start_inline(services: TriggerServices, client: Any, body: dict[str, Any]) -> ApiResult:
    document, options = split_envelope(body)
    if not options:
        raise ApiError(
            400,
            "missing_field",
            "$.definition: required (the job definition to run)",
            [{"path": "$.definition", "message": "required field is missing", "code": "required"}],
        )
    job, _ = validate_definition(document, options, services, under="$.definition")
    job_id = chosen_job_id(options, job)
    request = new_run_request(
        job_id=job_id,
        job=job,
        trigger=_trigger(body),
        identity=_identity(body, "http-inline"),
        parameters=_parameters(job, body),
        base_dir=field_of(body, "base_dir", str),
    )
    return await _start(client, request)


async def _start(client: Any, request: RunRequest) -> ApiResult:
    outcome = await start_run(client, request)
    body = {
        "run_id": outcome.run_id,
        "job_id": request.job_id,
        "started": outcome.started,
        "existing_status": outcome.existing_status,
    }
    return ApiResult(202, body, started_run=outcome.run_id)


async def get_run(services: TriggerServices, client: Any, run_id: str) -> ApiResult:
    view = await read_run(services, client, run_id)
    if view is None:
        raise ApiError(404, "run_not_found", f"no run {run_id!r}")
    return ApiResult(200, view.model_dump(mode="json"))


async def read_run(services: TriggerServices, client: Any, run_id: str) -> RunView | None:
    status, tracked = await asyncio.gather(
        client.get_status(run_id, show_input=True), services.tracked_run(run_id)
    )
    latest = superseding_run_id(status, tracked)
    if latest is not None:
        status = await client.get_status(latest, show_input=True)
    tracked = await repair_tracking(services.runs, status, tracked)
    return build_view(run_id, status, tracked)


def _time(query: dict[str, str], name: str) -> datetime | None:
    text = query.get(name)
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise bad_query_value(name, "type", "expected an ISO 8601 time such as 2024-01-31T00:00:00Z") from exc
    value = value if value.tzinfo else value.replace(tzinfo=UTC)
    if not EARLIEST <= value <= LATEST:  # issue 13: far dates overflowed the window arithmetic
        raise bad_query_value(name, "range", f"expected a time between {EARLIEST.year} and {LATEST.year}")
    return value


async def list_runs(services: TriggerServices, query: dict[str, str]) -> ApiResult:
    if services.runs is None:
        raise ApiError(503, "tracking_unavailable", "listing runs needs the tracking store (Table storage)")
    from jobclusters.tracking.models import RunState

    try:
        limit = min(MAX_PAGE, max(1, int(query.get("limit") or 50)))
    except ValueError as exc:
        raise bad_query_value("limit", "type", "expected a number") from exc
    states = None
    if query.get("status"):
        names = [s.strip().upper() for s in query["status"].split(",") if s.strip()]
        unknown = [n for n in names if n not in RunState.__members__]
        if unknown:
            raise ApiError(
                400,
                "invalid_query",
                f"status: unknown state(s) {', '.join(unknown)}",
                [
                    {
                        "path": "query.status",
                        "message": f"expected one of {', '.join(RunState)}",
                        "code": "enum",
                    }
                ],
            )
        states = [RunState(n) for n in names]
    since, until = _time(query, "from"), _time(query, "to")
    token = query.get("continuation") or None
    job_id = query.get("job") or query.get("job_id")
    if job_id:
        page = await _page(token, services.runs.list_runs_for_job, job_id, page_size=limit, token=token)
        items = [
            r
            for r in page.items
            if (states is None or r.state in states)
            and (since is None or r.created_at >= since)
            and (until is None or r.created_at <= until)
        ]
    else:
        until = until or datetime.now(UTC)
        since = since or until - DEFAULT_WINDOW
        if until - since > MAX_WINDOW:
            message = (
                f"from..to spans more than {MAX_WINDOW.days} days: list by job, or page through shorter spans"
            )
            raise ApiError(
                400, "invalid_query", message, [{"path": "query.from", "message": message, "code": "range"}]
            )
        page = await _page(
            token,
            services.runs.list_runs,
            since=since,
            until=until,
            states=states,
            page_size=limit,
            token=token,
        )
        items = page.items
    return ApiResult(
        200, {"runs": [r.model_dump(mode="json") for r in items], "continuation": page.continuation_token}
    )


async def _page(given: str | None, read: Any, *args: Any, **kwargs: Any) -> Any:
    """A page of the listing; a continuation token the store cannot use is the caller's 400."""
    try:
        return await asyncio.to_thread(read, *args, **kwargs)
    except (ValueError, KeyError, TypeError, HttpResponseError) as exc:
        if given is None or (isinstance(exc, HttpResponseError) and exc.status_code != 400):
            raise
        raise bad_query_value("continuation", "token", "not a continuation token this API issued") from exc


async def cancel_run(client: Any, run_id: str, body: dict[str, Any]) -> ApiResult:
    runtime = status_name(await client.get_status(run_id))
    if runtime is None:
        raise ApiError(404, "run_not_found", f"no run {run_id!r}")
    if runtime in TERMINAL_RUNTIME:
        raise ApiError(409, "run_finished", f"run {run_id!r} has already finished ({runtime})")
    reason = field_of(body, "reason", str)
    await client.raise_event(run_id, CANCEL_EVENT, {"reason": reason, "actor": field_of(body, "actor", str)})
    return ApiResult(202, {"run_id": run_id, "cancel_requested": True})


async def _latest_of(client: Any, original: str) -> tuple[str, int]:
    """The newest repair of `original` (or the run itself) and its number (0 for the original)."""
    latest, number = original, 0
    while True:
        candidate = repair_run_id(original, number + 1)
        if status_name(await client.get_status(candidate)) is None:
            return latest, number
        latest, number = candidate, number + 1


async def repair_run(client: Any, run_id: str, body: dict[str, Any]) -> ApiResult:
    status = await client.get_status(run_id, show_input=True)
    if status_name(status) is None:
        raise ApiError(404, "run_not_found", f"no run {run_id!r}")
    asked = request_of(status)
    if asked is None:
        raise ApiError(409, "not_repairable", f"run {run_id!r} was not started by run_job with a RunRequest")
    original = asked.repair.of_run_id if asked.repair else run_id
    latest_id, number = await _latest_of(client, original)
    latest = status if latest_id == run_id else await client.get_status(latest_id, show_input=True)
    latest_request = request_of(latest) or asked
    runtime = status_name(latest)
    if runtime not in TERMINAL_RUNTIME:
        raise ApiError(409, "run_in_progress", f"run {latest_id!r} is still {runtime}: repair it later")
    states: dict[str, TaskState] = {}
    if latest_request.repair is not None:
        states.update(latest_request.repair.previous_states)
    outcomes: dict[str, str] = {}
    if latest_request.repair is not None:
        outcomes.update(latest_request.repair.previous_outcomes)
    progress = progress_of(latest)
    if progress is not None:
        states.update({key: task.state for key, task in progress.tasks.items()})
        outcomes.update(
            {key: task.outcome for key, task in progress.tasks.items() if task.outcome is not None}
        )
    tasks = field_of(body, "tasks", list)
    try:
        dependents = bool(field_of(body, "rerun_dependents", bool, True))
        rerun = repair_set(latest_request.job, states, tasks, dependents)
    except ValueError as exc:
        raise ApiError(
            400,
            "invalid_field",
            f"$.tasks: {exc}",
            [{"path": "$.tasks", "message": str(exc), "code": "unknown-task"}],
        ) from exc
    if not rerun:
        raise ApiError(409, "nothing_to_repair", f"run {latest_id!r} has no failed or canceled tasks")
    kept_outcomes = {key: value for key, value in outcomes.items() if key not in rerun}
    failed = {key: task.failed_inputs for key, task in progress.tasks.items()} if progress else {}
    repair = RepairInfo(
        of_run_id=original,
        number=number + 1,
        rerun_tasks=rerun,
        previous_states=states,
        previous_outcomes=kept_outcomes,
        rerun_inputs=rerun_inputs(latest_request.job, rerun, failed),
    )
    request = RunRequest(
        run_id=repair_run_id(original, number + 1),
        job_id=latest_request.job_id,
        job=latest_request.job,
        parameters=latest_request.parameters,
        trigger=TriggerInfo(
            kind="repair",
            detail={"of_run_id": original, "repairs": latest_id},
            actor=field_of(body, "actor", str),
        ),
        repair=repair,
        base_dir=latest_request.base_dir,
    )
    result = await _start(client, request)
    result.body.update({"repair_number": repair.number, "of_run_id": original, "rerun_tasks": rerun})
    if repair.rerun_inputs:
        result.body["rerun_inputs"] = {k: v.model_dump(mode="json") for k, v in repair.rerun_inputs.items()}
    return result
