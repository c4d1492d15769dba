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
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import azure.durable_functions as df
import azure.functions as func

from jobclusters.services.factory import trigger_services
from triggers import jobs_api, runs_api, task_logs
from triggers.api_support import ApiError, ApiResult, json_body

bp = df.Blueprint()
log = logging.getLogger("jobclusters.api")


def status_links(req_url: str, durable_links: dict[str, Any], run_id: str) -> dict[str, Any]:
    """The durable client's status URLs minus `terminatePostUri`, plus `cancelPostUri`.

    Terminating an instance skips run_job's cleanup (its concurrency slot stays taken, its Batch jobs and
    cluster runs keep running), so no answer of this API hands out a terminate link; cancel is the event.
    """
    links = {k: v for k, v in durable_links.items() if k != "terminatePostUri"}
    origin = urlsplit(req_url)
    links["cancelPostUri"] = urlunsplit((origin.scheme, origin.netloc, f"/api/runs/{run_id}/cancel", "", ""))
    return links


def _response(req: func.HttpRequest, client: Any, result: ApiResult) -> func.HttpResponse:
    if result.started_run is not None:
        check = client.create_check_status_response(req, result.started_run)
        links = status_links(req.url, json.loads(check.get_body()), result.started_run)
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


async def _answer(
    req: func.HttpRequest, client: Any, work: Callable[[], Awaitable[ApiResult]]
) -> func.HttpResponse:
    try:
        result = await work()
    except ApiError as exc:
        result = exc.result()
    except Exception as exc:  # an unexpected failure is still a JSON answer, without internals
        log.exception("%s %s failed", req.method, req.url.split("?", 1)[0])
        result = ApiError(500, "internal_error", f"the request failed: {type(exc).__name__}").result()
    return _response(req, client, result)


@bp.route(route="jobs", methods=["POST"])
@bp.durable_client_input(client_name="client")
async def api_register_job(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    return await _answer(
        req, client, lambda: jobs_api.register_job(trigger_services(), json_body(req.get_body()))
    )


@bp.route(route="jobs", methods=["GET"])
@bp.durable_client_input(client_name="client")
async def api_list_jobs(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    return await _answer(req, client, lambda: jobs_api.list_jobs(trigger_services().definitions))


@bp.route(route="jobs/{job_id}", methods=["GET"])
@bp.durable_client_input(client_name="client")
async def api_get_job(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    job_id = req.route_params["job_id"]
    return await _answer(req, client, lambda: jobs_api.get_job(trigger_services().definitions, job_id))


@bp.route(route="jobs/{job_id}", methods=["DELETE"])
@bp.durable_client_input(client_name="client")
async def api_delete_job(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    job_id = req.route_params["job_id"]
    return await _answer(req, client, lambda: jobs_api.delete_job(trigger_services().definitions, job_id))


@bp.route(route="jobs/{job_id}/runs", methods=["POST"])
@bp.durable_client_input(client_name="client")
async def api_run_job(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    job_id = req.route_params["job_id"]
    return await _answer(
        req,
        client,
        lambda: runs_api.start_registered(
            trigger_services(), client, job_id, json_body(req.get_body(), required=False)
        ),
    )


@bp.route(route="runs", methods=["POST"])
@bp.durable_client_input(client_name="client")
async def api_run_inline(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    return await _answer(
        req, client, lambda: runs_api.start_inline(trigger_services(), client, json_body(req.get_body()))
    )


@bp.route(route="runs", methods=["GET"])
@bp.durable_client_input(client_name="client")
async def api_list_runs(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    query = {k: v for k, v in req.params.items()}
    return await _answer(req, client, lambda: runs_api.list_runs(trigger_services(), query))


@bp.route(route="runs/{run_id}", methods=["GET"])
@bp.durable_client_input(client_name="client")
async def api_get_run(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    run_id = req.route_params["run_id"]
    return await _answer(req, client, lambda: runs_api.get_run(trigger_services(), client, run_id))


@bp.route(route="runs/{run_id}/cancel", methods=["POST"])
@bp.durable_client_input(client_name="client")
async def api_cancel_run(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    run_id = req.route_params["run_id"]
    return await _answer(
        req, client, lambda: runs_api.cancel_run(client, run_id, json_body(req.get_body(), required=False))
    )


@bp.route(route="runs/{run_id}/repair", methods=["POST"])
@bp.durable_client_input(client_name="client")
async def api_repair_run(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    run_id = req.route_params["run_id"]
    return await _answer(
        req, client, lambda: runs_api.repair_run(client, run_id, json_body(req.get_body(), required=False))
    )


@bp.route(route="runs/{run_id}/tasks/{task_key}/logs", methods=["GET"])
@bp.durable_client_input(client_name="client")
async def api_task_logs(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    run_id, task_key = req.route_params["run_id"], req.route_params["task_key"]
    return await _answer(
        req, client, lambda: task_logs.task_logs(trigger_services(), client, run_id, task_key)
    )
