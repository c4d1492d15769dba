"""The Durable Functions HTTP API (what `DurableOrchestrationClient` and the status URLs talk to).

Status codes, headers and JSON shapes follow the Durable extension's HTTP handler, so the unchanged
client from azure-functions-durable and any tool written against the documented API work as in Azure.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Collection
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from devhost.engine_api import (
    TERMINAL_STATUSES,
    DurableEngine,
    InstanceAlreadyRunning,
    InstanceNotFound,
    InstanceQuery,
    InstanceState,
    RuntimeStatus,
)
from devhost.http.links import DurableLinks
from devhost.http.status_payload import parse_json_text, status_payload

CONTINUATION_HEADER = "x-ms-continuation-token"
DEFAULT_PAGE_SIZE = 100
_RUNNING_LIKE = frozenset(
    {RuntimeStatus.RUNNING, RuntimeStatus.PENDING, RuntimeStatus.CONTINUED_AS_NEW, RuntimeStatus.SUSPENDED}
)
_BAD_INSTANCE_ID = re.compile(r"[/\\#?\x00-\x1f\x7f]")


class BadRequest(Exception):
    """A request the API refuses with 400; the message names the parameter and what was expected."""


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status, text=json.dumps(body), content_type="application/json", headers=headers
    )


def _empty(status: int) -> web.Response:
    return web.Response(status=status)


def _error(status: int, message: str, exc: BaseException | None = None) -> web.Response:
    body: dict[str, str] = {"Message": message}
    if exc is not None:
        body["ExceptionMessage"] = str(exc)
        body["ExceptionType"] = type(exc).__name__
    return _json(status, body)


def parse_time(value: str | None, name: str) -> datetime | None:
    if value is None or value == "":
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace(" ", "+"))
    except ValueError as exc:
        raise BadRequest(f"query parameter {name!r}: expected an ISO 8601 date-time, got {value!r}") from exc
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def parse_bool(value: str | None, name: str, default: bool) -> bool:
    if value is None or value == "":
        return default
    lowered = value.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    raise BadRequest(f"query parameter {name!r}: expected true or false, got {value!r}")


def parse_statuses(value: str | None) -> frozenset[RuntimeStatus]:
    if not value:
        return frozenset()
    by_name = {s.value.lower(): s for s in RuntimeStatus}
    result = set()
    for raw in value.split(","):
        item = raw.strip()
        if not item:
            continue
        status = by_name.get(item.lower())
        if status is None:
            raise BadRequest(
                f"query parameter 'runtimeStatus': unknown status {item!r}; "
                "expected a comma-separated list of " + ", ".join(s.value for s in RuntimeStatus)
            )
        result.add(status)
    return frozenset(result)


def unwrap_client_json(text: str) -> str:
    """The payload JSON the orchestrator should see, from a request body.

    `DurableOrchestrationClient` JSON-encodes inputs and event data, then aiohttp encodes that text again,
    so its bodies are JSON strings holding JSON. The extension hands the orchestrator the body decoded
    once; plain HTTP callers send the JSON itself. Both arrive at the same value.
    """
    value = json.loads(text)
    if isinstance(value, str):
        try:
            json.loads(value)
        except ValueError:
            return text
        return value
    return text


def check_instance_id(instance_id: str) -> None:
    if not instance_id or len(instance_id) > 256 or _BAD_INSTANCE_ID.search(instance_id):
        raise BadRequest(
            f"instance id {instance_id!r}: expected 1-256 characters without '/', '\\\\', '#', '?' "
            "or control characters"
        )


class DurableApi:
    """Serves the Durable HTTP API for one task hub on top of a `DurableEngine`."""

    def __init__(
        self,
        engine: DurableEngine,
        links: DurableLinks,
        *,
        orchestrator_names: Collection[str] | None = None,
        log: logging.Logger | None = None,
    ) -> None:
        self.engine = engine
        self.links = links
        self.orchestrator_names = set(orchestrator_names) if orchestrator_names is not None else None
        self.log = log or logging.getLogger("devhost.http")

    async def handle(self, request: web.Request, subpath: str) -> web.StreamResponse:
        """`subpath` is the decoded path after the API's base (e.g. `instances/abc/terminate`)."""
        try:
            return await self._route(request, subpath.strip("/"))
        except BadRequest as exc:
            return _error(400, str(exc))
        except InstanceNotFound:
            return _empty(404)
        except Exception as exc:
            self.log.exception("Durable API %s %s failed", request.method, subpath)
            return _error(500, "Something went wrong while processing your request", exc)

    async def _route(self, request: web.Request, path: str) -> web.StreamResponse:
        parts = path.split("/") if path else []
        method = request.method.upper()
        head = parts[0].lower() if parts else ""
        if head == "orchestrators" and len(parts) in (2, 3):
            if method != "POST":
                return _empty(404)
            return await self.start(request, parts[1], parts[2] if len(parts) == 3 else "")
        if head == "entities":
            return _error(501, "Durable entities are not served over HTTP by devhost.")
        if head != "instances":
            return _empty(404)
        if len(parts) == 1 or (len(parts) == 2 and parts[1] == ""):
            if method == "GET":
                return await self.list_instances(request)
            if method == "DELETE":
                return await self.purge_many(request)
            return _empty(404)
        instance_id = parts[1]
        if len(parts) == 2:
            if method == "GET":
                return await self.get_status(request, instance_id)
            if method == "DELETE":
                return await self.purge(instance_id)
            return _empty(404)
        if len(parts) == 4 and parts[2].lower() == "raiseevent" and method == "POST":
            return await self.raise_event(request, instance_id, parts[3])
        if len(parts) == 3 and method == "POST":
            operation = parts[2].lower()
            reason = request.query.get("reason") or ""
            if operation == "terminate":
                return await self._control(instance_id, "terminate", reason)
            if operation == "suspend":
                return await self._control(instance_id, "suspend", reason)
            if operation == "resume":
                return await self._control(instance_id, "resume", reason)
            if operation == "rewind":
                return await self.rewind(instance_id)
            if operation == "restart":
                return await self.restart(request, instance_id)
        return _empty(404)

    def check_status_response(self, request: web.Request, instance_id: str) -> web.Response:
        payload = self.links.management_payload(
            instance_id,
            origin=f"{request.scheme}://{request.host}",
            return_internal_server_error_on_failure=False,
        )
        payload.pop("rewindPostUri", None)
        return _json(202, payload, headers={"Location": payload["statusQueryGetUri"], "Retry-After": "10"})

    async def start(self, request: web.Request, function_name: str, instance_id: str) -> web.StreamResponse:
        body = await request.read()
        input_json: str | None = None
        if body:
            try:
                input_json = unwrap_client_json(body.decode("utf-8-sig"))
            except ValueError as exc:
                return _error(400, "Invalid JSON content", exc)
        if self.orchestrator_names is not None and function_name not in self.orchestrator_names:
            known = ", ".join(repr(n) for n in sorted(self.orchestrator_names)) or "(none)"
            return _error(
                400,
                "One or more of the arguments submitted is incorrect",
                ValueError(
                    f"The function '{function_name}' doesn't exist, is disabled, or is not an orchestrator "
                    f"function. Additional info: the following are the known orchestrator functions: {known}."
                ),
            )
        new_id = instance_id or uuid.uuid4().hex
        check_instance_id(new_id)
        try:
            started = await self.engine.start_new(function_name, instance_id=new_id, input_json=input_json)
        except InstanceAlreadyRunning as exc:
            return _error(409, str(exc) or f"An instance with ID '{new_id}' already exists.")
        except ValueError as exc:  # the engine's own check of the orchestrator name
            return _error(400, "One or more of the arguments submitted is incorrect", exc)
        timeout = _seconds(request.query.get("timeout"), "timeout")
        interval = _seconds(request.query.get("pollingInterval"), "pollingInterval")
        if timeout is not None and interval is not None:
            return await self._wait_or_check_status(request, started, timeout)
        return self.check_status_response(request, started)

    async def _wait_or_check_status(
        self, request: web.Request, instance_id: str, timeout: float
    ) -> web.StreamResponse:
        try:
            state = await self.engine.wait_for_terminal(instance_id, timeout)
        except TimeoutError:
            return self.check_status_response(request, instance_id)
        if state.runtime_status is RuntimeStatus.COMPLETED:
            return _json(200, parse_json_text(state.output))
        return await self.get_status(request, instance_id)

    async def get_status(self, request: web.Request, instance_id: str) -> web.StreamResponse:
        q = request.query
        show_history = parse_bool(q.get("showHistory"), "showHistory", False)
        show_history_output = parse_bool(q.get("showHistoryOutput"), "showHistoryOutput", False)
        show_input = parse_bool(q.get("showInput"), "showInput", True)
        fail_with_500 = parse_bool(
            q.get("returnInternalServerErrorOnFailure"), "returnInternalServerErrorOnFailure", False
        )
        state = await self.engine.get_instance(instance_id, show_history=show_history, show_input=show_input)
        if state is None:
            return _empty(404)
        body = status_payload(state, show_history_output=show_history_output)
        if not show_input:
            body["input"] = None
        headers: dict[str, str] = {}
        if state.runtime_status in _RUNNING_LIKE:
            status = 202
            headers = {"Location": str(request.url), "Retry-After": "5"}
        elif state.runtime_status is RuntimeStatus.FAILED:
            status = 500 if fail_with_500 else 200
        else:
            status = 200
        return _json(status, body, headers=headers)

    def _query_from_request(self, request: web.Request) -> InstanceQuery:
        q = request.query
        top = q.get("top")
        page_size = DEFAULT_PAGE_SIZE
        if top:
            try:
                page_size = int(top)
            except ValueError as exc:
                raise BadRequest(f"query parameter 'top': expected a positive integer, got {top!r}") from exc
            if page_size <= 0:
                raise BadRequest(f"query parameter 'top': expected a positive integer, got {top!r}")
        return InstanceQuery(
            runtime_status=parse_statuses(q.get("runtimeStatus")),
            created_from=parse_time(q.get("createdTimeFrom"), "createdTimeFrom"),
            created_to=parse_time(q.get("createdTimeTo"), "createdTimeTo"),
            instance_id_prefix=q.get("instanceIdPrefix") or None,
            page_size=page_size,
            continuation_token=request.headers.get(CONTINUATION_HEADER) or None,
            show_input=parse_bool(q.get("showInput"), "showInput", True),
        )

    async def list_instances(self, request: web.Request) -> web.StreamResponse:
        query = self._query_from_request(request)
        states, token = await self.engine.query_instances(query)
        body = [status_payload(_without_history(s)) for s in states]
        if not query.show_input:
            for item in body:
                item["input"] = None
        return _json(200, body, headers={CONTINUATION_HEADER: token} if token else None)

    async def purge(self, instance_id: str) -> web.StreamResponse:
        state = await self.engine.get_instance(instance_id, show_input=False)
        if state is None:
            return _empty(404)
        if state.runtime_status not in TERMINAL_STATUSES:
            return _json(
                412,
                "Only orchestrations in a terminal state can be purged, but the orchestration with instance "
                f"ID {instance_id} has status {state.runtime_status}",
            )
        deleted = await self.engine.purge(instance_id)
        return _json(200, {"instancesDeleted": 1 if deleted else 0})

    async def purge_many(self, request: web.Request) -> web.StreamResponse:
        q = request.query
        created_from = parse_time(q.get("createdTimeFrom"), "createdTimeFrom")
        if created_from is None:
            return _json(400, "Please provide value for 'createdTimeFrom' parameter.")
        created_to = parse_time(q.get("createdTimeTo"), "createdTimeTo") or datetime.now(UTC)
        query = InstanceQuery(
            runtime_status=parse_statuses(q.get("runtimeStatus")),
            created_from=created_from,
            created_to=created_to,
            page_size=2**31 - 1,
        )
        deleted = await self.engine.purge_many(query)
        if deleted == 0:
            return _empty(404)
        return _json(200, {"instancesDeleted": deleted})

    async def raise_event(
        self, request: web.Request, instance_id: str, event_name: str
    ) -> web.StreamResponse:
        state = await self.engine.get_instance(instance_id, show_input=False)
        if state is None:
            return _empty(404)
        if state.runtime_status in TERMINAL_STATUSES:
            return _empty(410)
        if request.content_type.lower() != "application/json":
            return _error(400, "Only application/json request content is supported")
        text = (await request.read()).decode("utf-8-sig")
        data_json: str | None = None
        if text.strip():
            try:
                data_json = unwrap_client_json(text)
            except ValueError as exc:
                return _error(400, "Invalid JSON content", exc)
        await self.engine.raise_event(instance_id, event_name, data_json)
        return _empty(202)

    async def _control(self, instance_id: str, operation: str, reason: str) -> web.StreamResponse:
        state = await self.engine.get_instance(instance_id, show_input=False)
        if state is None:
            return _empty(404)
        if state.runtime_status in TERMINAL_STATUSES:
            return _empty(410)
        if operation == "terminate":
            await self.engine.terminate(instance_id, reason)
        elif operation == "suspend":
            await self.engine.suspend(instance_id, reason)
        else:
            await self.engine.resume(instance_id, reason)
        return _empty(202)

    async def rewind(self, instance_id: str) -> web.StreamResponse:
        state = await self.engine.get_instance(instance_id, show_input=False)
        if state is None:
            return _json(404, f'No orchestration with instance ID "{instance_id}" found.')
        if state.runtime_status is not RuntimeStatus.FAILED:
            return _json(
                412,
                f"This orchestration has status {state.runtime_status}, but only orchestrations in the "
                '"Failed" state can be rewound.',
            )
        return _json(
            501,
            "Rewind is not supported by devhost (it is deprecated in Durable Functions too): "
            "restart the instance instead (POST .../instances/{id}/restart).",
        )

    async def restart(self, request: web.Request, instance_id: str) -> web.StreamResponse:
        new_instance = parse_bool(
            request.query.get("restartWithNewInstanceId"), "restartWithNewInstanceId", True
        )
        state = await self.engine.get_instance(instance_id, show_input=True)
        if state is None:
            return _error(
                400,
                "InstanceId does not match a valid orchestration instance.",
                ValueError(f"No instance with ID '{instance_id}' was found."),
            )
        new_id = uuid.uuid4().hex if new_instance else instance_id
        try:
            started = await self.engine.start_new(state.name, instance_id=new_id, input_json=state.input)
        except InstanceAlreadyRunning as exc:
            return _error(409, "A non-terminal instance with this instance ID already exists.", exc)
        except ValueError as exc:
            return _error(400, "InstanceId does not match a valid orchestration instance.", exc)
        return self.check_status_response(request, started)


def _without_history(state: InstanceState) -> InstanceState:
    if state.history is None:
        return state
    return replace(state, history=None)


def _seconds(value: str | None, name: str) -> float | None:
    if value is None or value == "":
        return None
    try:
        seconds = float(value)
    except ValueError as exc:
        raise BadRequest(f"query parameter {name!r}: expected a number of seconds, got {value!r}") from exc
    if seconds < 0:
        raise BadRequest(f"query parameter {name!r}: expected a number of seconds >= 0, got {value!r}")
    return seconds
