"""The HTTP API (function auth level): job definitions and runs. Routes only; the work is in
`jobs_api` and `runs_api`. Every answer is JSON, errors included.

    POST   /api/jobs                          register (or replace) a job definition
    GET    /api/jobs                          list registered jobs
    GET    /api/jobs/{job_id}                 one definition
    DELETE /api/jobs/{job_id}                 unregister
    POST   /api/jobs/{job_id}/runs            run a registered job            -> 202 + status URLs
    POST   /api/runs                          run an inline definition        -> 202 + status URLs
    GET    /api/runs                          list runs (job, status, from, to, limit, continuation)
    GET    /api/runs/{run_id}                 a run with its task runs
    POST   /api/runs/{run_id}/cancel          cancel                          -> 202
    POST   /api/runs/{run_id}/repair          rerun failed tasks + dependents -> 202 + status URLs
    GET    /api/runs/{run_id}/tasks/{task_key}/logs   a task's log text
    GET    /api/openapi.json                  this API as an OpenAPI 3.1 document (anonymous)
    *      any other path under /api          404 JSON

Route values and query values are checked (`api_support.checked_*`) before any store is asked, so a bad
one is a 400 naming it, never a storage error.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from urllib.parse import quote, urlsplit, urlunsplit

import azure.durable_functions as df
import azure.functions as func

from jobclusters.services.factory import trigger_services
from triggers import jobs_api, openapi, runs_api, task_logs
from triggers.api_support import (
    ApiError,
    ApiResult,
    checked_job_id,
    checked_query,
    checked_run_id,
    checked_task_key,
    json_body,
)

bp = df.Blueprint()
log = logging.getLogger("jobclusters.api")


def run_links(req_url: str, run_id: str) -> dict[str, str]:
    """This API's own URLs of a run, without any key: the caller authorizes them with its function key.

    Never the Durable webhook URLs of `create_check_status_response`: their `code=` is the extension's
    system key, which terminates, purges, rewinds and starts any instance of the app.
    """
    origin = urlsplit(req_url)
    path = origin.path
    cuts = [i for i in (path.find("/jobs"), path.find("/runs")) if i >= 0]
    prefix = path[: min(cuts)] if cuts else "/api"
    run = urlunsplit((origin.scheme, origin.netloc, f"{prefix}/runs/{quote(run_id, safe='')}", "", ""))
    return {
        "id": run_id,
        "statusQueryGetUri": run,
        "cancelPostUri": f"{run}/cancel",
        "repairPostUri": f"{run}/repair",
    }


def _response(req: func.HttpRequest, result: ApiResult) -> func.HttpResponse:
    if result.started_run is not None:
        links = run_links(req.url, result.started_run)
        body = {**result.body, "status_urls": links}
        headers = {"Location": links["statusQueryGetUri"], "Retry-After": "2"}
        return func.HttpResponse(
            json.dumps(body), status_code=202, headers=headers, mimetype="application/json"
        )
    return func.HttpResponse(
        json.dumps(result.body),
        status_code=result.status,
        headers=result.headers,
        mimetype="application/json",
    )


async def _answer(req: func.HttpRequest, work: Callable[[], Awaitable[ApiResult]]) -> func.HttpResponse:
    try:
        result = await work()
    except ApiError as exc:
        result = exc.result()
    except Exception as exc:  # an unexpected failure is still a JSON answer, without internals
        log.exception("%s %s failed", req.method, req.url.split("?", 1)[0])
        result = ApiError(500, "internal_error", f"the request failed: {type(exc).__name__}").result()
    return _response(req, result)


@bp.route(route="jobs", methods=["POST"])
@bp.durable_client_input(client_name="client")
async def api_register_job(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    return await _answer(req, lambda: jobs_api.register_job(trigger_services(), json_body(req.get_body())))


@bp.route(route="jobs", methods=["GET"])
@bp.durable_client_input(client_name="client")
async def api_list_jobs(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    return await _answer(req, lambda: jobs_api.list_jobs(trigger_services().definitions))


@bp.route(route="jobs/{job_id}", methods=["GET"])
@bp.durable_client_input(client_name="client")
async def api_get_job(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    job_id = req.route_params["job_id"]
    return await _answer(
        req, lambda: jobs_api.get_job(trigger_services().definitions, checked_job_id(job_id))
    )


@bp.route(route="jobs/{job_id}", methods=["DELETE"])
@bp.durable_client_input(client_name="client")
async def api_delete_job(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    job_id = req.route_params["job_id"]
    return await _answer(
        req, lambda: jobs_api.delete_job(trigger_services().definitions, checked_job_id(job_id))
    )


@bp.route(route="jobs/{job_id}/runs", methods=["POST"])
@bp.durable_client_input(client_name="client")
async def api_run_job(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    job_id = req.route_params["job_id"]
    return await _answer(
        req,
        lambda: runs_api.start_registered(
            trigger_services(), client, checked_job_id(job_id), json_body(req.get_body(), required=False)
        ),
    )


@bp.route(route="runs", methods=["POST"])
@bp.durable_client_input(client_name="client")
async def api_run_inline(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    return await _answer(
        req, lambda: runs_api.start_inline(trigger_services(), client, json_body(req.get_body()))
    )


@bp.route(route="runs", methods=["GET"])
@bp.durable_client_input(client_name="client")
async def api_list_runs(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    query = {k: v for k, v in req.params.items()}
    return await _answer(req, lambda: runs_api.list_runs(trigger_services(), checked_query(query)))


@bp.route(route="runs/{run_id}", methods=["GET"])
@bp.durable_client_input(client_name="client")
async def api_get_run(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    run_id = req.route_params["run_id"]
    return await _answer(req, lambda: runs_api.get_run(trigger_services(), client, checked_run_id(run_id)))


@bp.route(route="runs/{run_id}/cancel", methods=["POST"])
@bp.durable_client_input(client_name="client")
async def api_cancel_run(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    run_id = req.route_params["run_id"]
    return await _answer(
        req,
        lambda: runs_api.cancel_run(
            client, checked_run_id(run_id), json_body(req.get_body(), required=False)
        ),
    )


@bp.route(route="runs/{run_id}/repair", methods=["POST"])
@bp.durable_client_input(client_name="client")
async def api_repair_run(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    run_id = req.route_params["run_id"]
    return await _answer(
        req,
        lambda: runs_api.repair_run(
            client, checked_run_id(run_id), json_body(req.get_body(), required=False)
        ),
    )


@bp.route(route="runs/{run_id}/tasks/{task_key}/logs", methods=["GET"])
@bp.durable_client_input(client_name="client")
async def api_task_logs(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    run_id, task_key = req.route_params["run_id"], req.route_params["task_key"]
    return await _answer(
        req,
        lambda: task_logs.task_logs(
            trigger_services(), client, checked_run_id(run_id), checked_task_key(task_key)
        ),
    )


@bp.route(route="openapi.json", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
async def api_openapi(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(openapi.document()), status_code=200, mimetype="application/json")


UNKNOWN_ROUTE_FUNCTION = "api_unknown_route"


@bp.route(route="{*path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
async def api_unknown_route(req: func.HttpRequest) -> func.HttpResponse:
    """Routing tries every literal route first, so only paths (or methods) no route serves land here."""
    path = urlsplit(req.url).path
    known = openapi.methods_of(path)
    if known:
        error = ApiError(405, "method_not_allowed", f"{req.method} {path}: allowed {', '.join(known)}")
        return _response(req, ApiResult(405, error.result().body, headers={"Allow": ", ".join(known)}))
    return _response(req, ApiError(404, "route_not_found", f"no route {req.method} {path}").result())
