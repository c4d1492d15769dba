from __future__ import annotations

from typing import Any

import pytest

from jobclusters.client.api import ApiClient, ApiClientError
from tests.loopback import loopback


def test_calls_send_the_function_key_and_json() -> None:
    def handler(method: str, path: str, headers: dict[str, str], body: Any) -> tuple[int, Any]:
        if path == "/api/jobs" and method == "POST":
            return 201, {"job_id": "j", "version": 1}
        return 202, {"run_id": "run-1"}

    with loopback(handler) as (url, seen):
        client = ApiClient(url, "secret-key")
        assert client.register_job({"name": "j"}, base_dir="/jobs")["job_id"] == "j"
        assert client.start_job("j", {"a": "1"}, idempotency_key="k")["run_id"] == "run-1"
    (_, _, headers, body), (_, path, _, start) = seen
    assert headers["x-functions-key"] == "secret-key"
    assert body == {"definition": {"name": "j"}, "base_dir": "/jobs"}
    assert path == "/api/jobs/j/runs" and start == {
        "parameters": {"a": "1"},
        "source": "cli",
        "idempotency_key": "k",
    }


def test_api_errors_keep_their_code_message_and_problems() -> None:
    problems = [{"path": "$.definition.tasks[0].key", "message": "required", "code": "schema"}]

    def handler(method: str, path: str, headers: dict[str, str], body: Any) -> tuple[int, Any]:
        return 400, {"error": {"code": "invalid_definition", "message": "1 error", "problems": problems}}

    with loopback(handler) as (url, _), pytest.raises(ApiClientError) as caught:
        ApiClient(url).register_job({})
    assert (caught.value.status, caught.value.code, caught.value.problems) == (
        400,
        "invalid_definition",
        problems,
    )


def test_an_unreachable_api_is_a_clear_error() -> None:
    with loopback(lambda *a: (200, {})) as (url, _):
        pass
    with pytest.raises(ApiClientError) as caught:
        ApiClient(url, timeout=2).list_jobs()
    assert caught.value.code == "unreachable" and "GET" in caught.value.message
