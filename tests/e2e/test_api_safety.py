"""Issue 13 defects 5 and 7 against a real devhost: every bad input is a 4xx JSON error naming the field,
start answers carry no key and no Durable webhook URL, and `run_job` refuses requests no trigger made."""

from __future__ import annotations

import base64
import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from devhost.http.auth import HostKeys
from jobclusters.request_limits import MAX_IDEMPOTENCY_KEY, MAX_JSON_DEPTH
from jobclusters.run_request import RunRequest, TriggerInfo, derive_run_id
from jobclusters.spec import load_definition
from tests.e2e.conftest import FUNCTION_KEY, AppHost, batch_job
from tests.eventually import eventually

pytestmark = pytest.mark.integration

WEBHOOKS = "/runtime/webhooks/durabletask"


def _call(
    host: AppHost, method: str, path: str, *, key: str | None = FUNCTION_KEY, **kw: Any
) -> requests.Response:
    headers = {"x-functions-key": key} if key else {}
    return requests.request(method, host.client.base_url + path, headers=headers, timeout=30, **kw)


def _error(response: requests.Response) -> dict[str, Any]:
    assert response.headers.get("content-type", "").startswith("application/json"), response.headers
    body = response.json()
    assert set(body["error"]) >= {"code", "message"}, body
    return dict(body["error"])


@pytest.fixture(scope="module")
def job_id(app_host: AppHost) -> str:
    return str(
        app_host.client.register_job(batch_job(f"safety-{uuid.uuid4().hex[:6]}", {"only": "true"}))["job_id"]
    )


def _nested(depth: int) -> bytes:
    return b'{"parameters": {"x": ' + b"[" * depth + b"]" * depth + b"}}"


def _token(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode()


BAD_INPUTS: list[tuple[str, str, str, dict[str, Any], int, str]] = [
    ("deep body", "POST", "/api/runs", {"data": _nested(5000)}, 400, "$"),
    ("deep but parseable", "POST", "/api/runs", {"data": _nested(MAX_JSON_DEPTH + 5)}, 400, "$.parameters.x"),
    ("slash in a job id", "GET", "/api/jobs/a%2Fb", {}, 400, "path.job_id"),
    ("long job id", "GET", "/api/jobs/" + "j" * 2000, {}, 400, "path.job_id"),
    ("long run id", "GET", "/api/runs/" + "r" * 2000, {}, 400, "path.run_id"),
    ("long run id to cancel", "POST", "/api/runs/" + "r" * 2000 + "/cancel", {}, 400, "path.run_id"),
    ("long task key", "GET", "/api/runs/run-1/tasks/" + "t" * 2000 + "/logs", {}, 400, "path.task_key"),
    ("long job filter", "GET", "/api/runs", {"params": {"job": "j" * 2000}}, 400, "query.job"),
    ("long status filter", "GET", "/api/runs", {"params": {"status": "S" * 2000}}, 400, "query.status"),
    ("year 1", "GET", "/api/runs", {"params": {"to": "0001-01-01T00:00:00Z"}}, 400, "query.to"),
    ("year 9999", "GET", "/api/runs", {"params": {"from": "9999-12-31T23:59:59Z"}}, 400, "query.from"),
    (
        "garbage token",
        "GET",
        "/api/runs",
        {"params": {"continuation": "!!not-a-token!!"}},
        400,
        "query.continuation",
    ),
    (
        "foreign token",
        "GET",
        "/api/runs",
        {"params": {"continuation": _token([1, 2])}},
        400,
        "query.continuation",
    ),
    ("NaN parameter", "POST", "/api/runs", {"data": b'{"parameters": {"n": NaN}}'}, 400, "$.parameters.n"),
    (
        "Infinity parameter",
        "POST",
        "/api/runs",
        {"data": b'{"parameters": {"n": -Infinity}}'},
        400,
        "$.parameters.n",
    ),
    (
        "long idempotency key",
        "POST",
        "/api/runs",
        {"json": {"idempotency_key": "k" * (MAX_IDEMPOTENCY_KEY + 1), "definition": {}}},
        400,
        "$.idempotency_key",
    ),
    ("huge body", "POST", "/api/jobs", {"data": b'{"x": "' + b"a" * (1024 * 1024 + 10) + b'"}'}, 413, "$"),
]


@pytest.mark.parametrize(
    ("what", "method", "path", "kw", "status", "field"), BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS]
)
def test_each_bad_input_is_a_4xx_json_error_naming_the_field(
    app_host: AppHost, what: str, method: str, path: str, kw: dict[str, Any], status: int, field: str
) -> None:
    response = _call(app_host, method, path, **kw)
    assert response.status_code == status, (what, response.status_code, response.text[:300])
    error = _error(response)
    assert any(p["path"].startswith(field) for p in error.get("problems", [])), error


def test_nan_in_a_registered_job_run_and_a_long_idempotency_key_are_refused_there_too(
    app_host: AppHost, job_id: str
) -> None:
    nan = _call(app_host, "POST", f"/api/jobs/{job_id}/runs", data=b'{"parameters": {"n": NaN}}')
    assert nan.status_code == 400 and _error(nan)["problems"][0]["path"] == "$.parameters.n"
    body = {"idempotency_key": "k" * (MAX_IDEMPOTENCY_KEY + 1)}
    long_key = _call(app_host, "POST", f"/api/jobs/{job_id}/runs", json=body)
    assert long_key.status_code == 400 and _error(long_key)["problems"][0]["path"] == "$.idempotency_key"


def test_unknown_routes_and_methods_and_missing_keys_answer_json(app_host: AppHost) -> None:
    unknown = _call(app_host, "GET", "/api/nowhere/at/all")
    assert unknown.status_code == 404 and _error(unknown)["code"] == "route_not_found"
    wrong_method = _call(app_host, "PUT", "/api/jobs")
    assert wrong_method.status_code == 405 and _error(wrong_method)["code"] == "method_not_allowed"
    assert set(wrong_method.headers["Allow"].split(", ")) == {"GET", "POST"}
    no_key = _call(app_host, "GET", "/api/jobs", key=None)
    assert no_key.status_code == 401 and _error(no_key)["code"] == "unauthorized"


def test_parallel_starts_with_one_idempotency_key_start_one_run_and_never_fail(
    app_host: AppHost, job_id: str
) -> None:
    key = f"race-{uuid.uuid4().hex[:8]}"

    def start(_: int) -> requests.Response:
        return _call(app_host, "POST", f"/api/jobs/{job_id}/runs", json={"idempotency_key": key})

    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(start, range(10)))
    assert [a.status_code for a in answers] == [202] * 10, [
        a.text[:200] for a in answers if a.status_code != 202
    ]
    bodies = [a.json() for a in answers]
    assert {b["run_id"] for b in bodies} == {derive_run_id(job_id, "http", key)}
    assert [b["started"] for b in bodies].count(True) == 1
    assert app_host.wait_run_done(bodies[0]["run_id"])["result"] == "SUCCESS"


def test_a_start_answer_carries_only_this_apis_run_urls_which_need_the_function_key(
    app_host: AppHost, job_id: str
) -> None:
    response = _call(app_host, "POST", f"/api/jobs/{job_id}/runs", json={})
    assert response.status_code == 202
    body = response.json()
    run_id = body["run_id"]
    base = f"{app_host.client.base_url}/api/runs/{run_id}"
    assert body["status_urls"] == {
        "id": run_id,
        "statusQueryGetUri": base,
        "cancelPostUri": f"{base}/cancel",
        "repairPostUri": f"{base}/repair",
    }
    assert response.headers["Location"] == base
    assert "code=" not in response.text and WEBHOOKS not in response.text
    assert requests.get(base, timeout=10).status_code == 401
    assert (
        requests.get(base, headers={"x-functions-key": FUNCTION_KEY}, timeout=10).json()["run_id"] == run_id
    )
    app_host.wait_run_done(run_id)


def _hand_made(job: dict[str, Any], marker: Path) -> dict[str, Any]:
    loaded = load_definition(job, required_tags=())
    assert loaded.job is not None, loaded.errors
    request = RunRequest(
        run_id=derive_run_id("forged", uuid.uuid4().hex),
        job_id="forged",
        job=loaded.job,
        trigger=TriggerInfo(kind="http"),
    )
    return request.model_dump(mode="json")


def _start_through_webhook(host: AppHost, payload: Any, run_id: str) -> dict[str, Any]:
    system_key = HostKeys.from_settings({"DEVHOST_FUNCTION_KEY": FUNCTION_KEY}).durabletask_key
    started = requests.post(
        f"{host.client.base_url}{WEBHOOKS}/orchestrators/run_job/{run_id}",
        params={"code": system_key},
        json=payload,
        timeout=30,
    )
    assert started.status_code == 202, started.text
    status_url = f"{host.client.base_url}{WEBHOOKS}/instances/{run_id}"

    def finished() -> dict[str, Any] | None:
        status = requests.get(status_url, params={"code": system_key}, timeout=10).json()
        return status if status["runtimeStatus"] in ("Completed", "Failed", "Terminated") else None

    return dict(eventually(finished, timeout=60, what=f"hand-made run {run_id} to end"))


def test_run_job_refuses_a_hand_made_request_even_from_a_holder_of_the_system_key(
    app_host: AppHost, tmp_path: Path
) -> None:
    marker = tmp_path / "ran"
    job = batch_job("forged", {"evil": f"touch {marker}"})
    unsigned = _hand_made(job, marker)
    status = _start_through_webhook(app_host, unsigned, unsigned["run_id"])
    assert status["output"]["result"] == "FAILED" and "not signed" in status["output"]["message"], status
    forged = _hand_made(job, marker)
    status = _start_through_webhook(app_host, {"request": forged, "signature": "0" * 64}, forged["run_id"])
    assert "signature does not match" in status["output"]["message"], status
    assert not marker.exists()
    view = app_host.client.get_run(forged["run_id"])
    assert view["result"] == "FAILED" and view["tasks"]["evil"]["attempts"] == 0
