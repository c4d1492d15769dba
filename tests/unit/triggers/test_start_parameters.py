"""Every start path refuses a run parameter the job does not declare, before any run starts."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace
from typing import Any

import pytest

from jobclusters.spec import Job, load_definition
from triggers import runs_api
from triggers.api_support import ApiError
from triggers.job_request import InvalidJobRequest
from triggers.servicebus import handle_job_request

TAGS = {"Project": "p", "Environment": "e", "CostCenter": "c", "Owner": "o"}
DOCUMENT = {
    "format": "jobclusters/v1",
    "name": "daily",
    "tags": TAGS,
    "parameters": [{"name": "day"}, {"name": "region", "default": "eu"}],
    "tasks": [{"key": "a", "payload": {"kind": "fail", "message": "x"}}],
}


class Definitions:
    def __init__(self, job: Job) -> None:
        self.job = job

    async def get(self, job_id: str) -> Any:
        return SimpleNamespace(job=self.job, base_dir=None) if job_id == "daily" else None


class DurableClient:
    def __init__(self) -> None:
        self.started: list[dict[str, Any]] = []

    async def get_status(self, instance_id: str, **_: Any) -> None:
        return None

    async def start_new(self, name: str, instance_id: str | None = None, client_input: Any = None) -> str:
        self.started.append(client_input)
        return instance_id or ""


def job() -> Job:
    loaded = load_definition(DOCUMENT).job
    assert loaded is not None
    return loaded


def test_http_start_of_a_registered_job_answers_400_at_the_bad_parameter() -> None:
    client = DurableClient()
    services: Any = SimpleNamespace(definitions=Definitions(job()))
    with pytest.raises(ApiError) as caught:
        asyncio.run(runs_api.start_registered(services, client, "daily", {"parameters": {"nope": "1"}}))
    assert caught.value.status == 400 and caught.value.code == "unknown_parameter"
    assert [p["path"] for p in caught.value.problems] == ["$.parameters.nope"]
    assert "defined: day, region" in caught.value.problems[0]["message"]
    assert client.started == []
    started = asyncio.run(runs_api.start_registered(services, client, "daily", {"parameters": {"day": "1"}}))
    assert started.status == 202 and client.started[0]["request"]["parameters"] == {"day": "1"}


def test_http_start_of_an_inline_definition_answers_400_at_the_bad_parameter() -> None:
    client = DurableClient()
    services: Any = SimpleNamespace(settings=SimpleNamespace(required_cost_tags=()))
    body = {"definition": DOCUMENT, "parameters": {"day": "1", "dya": "2"}}
    with pytest.raises(ApiError) as caught:
        asyncio.run(runs_api.start_inline(services, client, body))
    assert caught.value.status == 400
    assert [p["path"] for p in caught.value.problems] == ["$.parameters.dya"]
    assert client.started == []


def test_a_service_bus_request_with_an_unknown_parameter_is_refused_for_dead_lettering() -> None:
    client = DurableClient()
    body = json.dumps({"job": "daily", "parameters": {"nope": 1}}).encode()
    with pytest.raises(InvalidJobRequest, match=r"\$\.parameters\.nope: job 'daily' has no parameter 'nope'"):
        asyncio.run(handle_job_request(body, "m-1", Definitions(job()), client))  # type: ignore[arg-type]
    assert client.started == []
