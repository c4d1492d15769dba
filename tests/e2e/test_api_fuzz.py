"""Fuzz the HTTP API from its own OpenAPI document (served by the real devhost) with schemathesis: no
answer is a 5xx and every error is a JSON `{"error": {"code", "message"}}`. Bounded and derandomized (a
fixed number of examples per operation, the same ones every run), so it stays well under two minutes."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.core.result import Ok

from tests.e2e.conftest import FUNCTION_KEY, AppHost

pytestmark = pytest.mark.integration

EXAMPLES_PER_OPERATION = 40  # per operation and generation mode (inside and outside the schema)


MAX_REQUEST_LINE = 8190
"""Longer request lines are refused by the HTTP server before any app sees them (aiohttp 400, Azure's
front end 414), with the server's own plain body: not this API's answer."""


def _check(case: Any, response: Any) -> None:
    if response.status_code in (400, 414) and len(response.request.url) > MAX_REQUEST_LINE - 100:
        return
    where = f"{case.as_curl_command()} -> {response.status_code} {response.text[:200]!r}"
    assert response.status_code < 500, f"{where}: {response.text[:500]}"
    if response.status_code >= 400 and case.method != "HEAD":
        content_type = response.headers.get("content-type") or [""]  # schemathesis: a list per header
        assert content_type[0].startswith("application/json"), where
        error = response.json()["error"]
        assert isinstance(error["code"], str) and isinstance(error["message"], str), where


def test_the_api_fuzzed_from_its_openapi_document_never_answers_5xx_and_errors_are_json(
    app_host: AppHost,
) -> None:
    base = app_host.client.base_url
    served = requests.get(f"{base}/api/openapi.json", timeout=10).json()
    schema = schemathesis.openapi.from_dict(served)
    results = list(schema.get_all_operations())
    assert all(isinstance(result, Ok) for result in results), results
    operations = [result.ok() for result in results if isinstance(result, Ok)]
    assert len(operations) == sum(
        len([m for m in item if m != "parameters"]) for item in served["paths"].values()
    )
    calls: dict[tuple[str, GenerationMode], int] = {}
    for operation, mode in itertools.product(operations, GenerationMode):
        try:
            _fuzz(operation, mode, f"{base}/api", calls)
        except Unsatisfiable:
            assert mode is GenerationMode.NEGATIVE  # nothing of this operation can be outside the schema
    for mode in GenerationMode:
        assert sum(n for (_, m), n in calls.items() if m is mode) > len(operations) * 5, calls
    assert {label for label, _ in calls} == {o.label for o in operations}


def _fuzz(
    operation: Any, mode: GenerationMode, base_url: str, calls: dict[tuple[str, GenerationMode], int]
) -> None:
    @given(case=operation.as_strategy(mode))
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(case: Any) -> None:
        response = case.call(base_url=base_url, headers={"x-functions-key": FUNCTION_KEY}, timeout=30)
        _check(case, response)
        calls[(operation.label, mode)] = calls.get((operation.label, mode), 0) + 1

    fuzz()
