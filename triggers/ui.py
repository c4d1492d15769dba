"""The run monitor's web page, served by the app itself so the same page works on devhost and on Azure.

Static assets answer without a key and hold no data: every run, job and log the page shows comes from the
JSON API with the function key the user gives the page. The one route of its own, `ui-api/validate`, checks
a definition with the API's own `validate_definition` and stores nothing (the API has no dry-run route).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import azure.durable_functions as df
import azure.functions as func

from jobclusters.services.factory import TriggerServices, trigger_services
from triggers.api_support import ApiError, json_body, problem_list
from triggers.jobs_api import split_envelope, validate_definition

bp = df.Blueprint()
log = logging.getLogger("jobclusters.ui")

ASSETS = Path(__file__).resolve().parent / "ui_assets"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".map": "application/json",
    ".txt": "text/plain; charset=utf-8",
}
# The page builds its DOM from text nodes only; the policy is the second line of defence against script
# smuggled in through a task key, a parameter or a log line.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def asset_path(relative: str, root: Path = ASSETS) -> Path | None:
    """The file a request names inside the assets folder, or None (unknown type, outside the folder)."""
    relative = relative.strip("/") or "index.html"
    candidate = (root / relative).resolve()
    if root.resolve() not in candidate.parents or candidate.suffix not in CONTENT_TYPES:
        return None
    return candidate if candidate.is_file() else None


def _error(error: ApiError) -> func.HttpResponse:
    """Errors in the API's JSON shape, so a client (or the fuzz test) reads them like any other route's."""
    return func.HttpResponse(
        json.dumps(error.result().body),
        status_code=error.status,
        mimetype="application/json",
        headers=SECURITY_HEADERS,
    )


def asset_response(relative: str, root: Path = ASSETS) -> func.HttpResponse:
    if not (root / "index.html").is_file():
        return _error(
            ApiError(
                503,
                "ui_not_built",
                "the run monitor is not built: run `make setup` (npm run build) before starting the app",
            )
        )
    path = asset_path(relative, root)
    if path is None:
        return _error(ApiError(404, "asset_not_found", "no such file of the run monitor"))
    return func.HttpResponse(
        path.read_bytes(),
        status_code=200,
        headers={**SECURITY_HEADERS, "Content-Type": CONTENT_TYPES[path.suffix]},
    )


@bp.route(route="ui", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def ui_root(req: func.HttpRequest) -> func.HttpResponse:
    """`/api/ui` -> `/api/ui/` so the page's relative asset URLs resolve under the folder; hosts that route
    `/api/ui/` here too get the page itself."""
    path = req.url.split("?", 1)[0].split("#", 1)[0]
    if path.endswith("/"):
        return asset_response("")
    return func.HttpResponse(status_code=302, headers={"Location": path + "/"})


@bp.route(route="ui/{*path}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def ui_assets(req: func.HttpRequest) -> func.HttpResponse:
    return asset_response(req.route_params.get("path") or "")


async def validate(body: dict[str, Any], services: TriggerServices) -> tuple[int, dict[str, Any]]:
    """200 with the normalized job and warnings, or the API's error with each problem's JSON path."""
    try:
        document, options = split_envelope(body)
        job, result = validate_definition(
            document, options, services, under="$.definition" if options else ""
        )
    except ApiError as exc:
        return exc.status, exc.result().body
    return 200, {
        "valid": True,
        "format": result.format,
        "job": job.model_dump(mode="json"),
        "warnings": problem_list(result.warnings),
    }


@bp.route(route="ui-api/validate", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
async def ui_validate(req: func.HttpRequest) -> func.HttpResponse:
    try:
        status, body = await validate(json_body(req.get_body()), trigger_services())
    except ApiError as exc:
        status, body = exc.status, exc.result().body
    except Exception as exc:  # still a JSON answer, without internals
        log.exception("validate failed")
        failure = ApiError(500, "internal_error", f"the request failed: {type(exc).__name__}")
        status, body = 500, failure.result().body
    return func.HttpResponse(json.dumps(body), status_code=status, mimetype="application/json")
