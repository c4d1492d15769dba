"""Nothing beyond the caller's rights: every route refuses no key and a wrong key; runs started through
every trigger (HTTP, repair, blob, Service Bus) answer with no key of any kind, and neither the caller's
function key nor anything found in the answers opens the Durable webhooks or the admin API; a task's
secrets are masked in its logs."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests

from jobclusters.run_request import derive_run_id
from localbus import LocalServiceBus
from tests.e2e.conftest import FUNCTION_KEY, AppHost, batch_job
from tests.e2e.test_triggers import upload
from triggers.openapi import ROUTE_PREFIX, document

pytestmark = pytest.mark.integration

SAMPLE_VALUES = {"job_id": "some-job", "run_id": "run-000000000000000000000000", "task_key": "t"}
KEYISH = re.compile(r"code|sig|key|token|secret", re.IGNORECASE)


def _operations() -> list[tuple[str, str]]:
    out = []
    for path, item in document()["paths"].items():
        for method, operation in item.items():
            if method != "parameters" and operation.get("security") != []:
                out.append((method.upper(), ROUTE_PREFIX + path.format(**SAMPLE_VALUES)))
    return out


@pytest.mark.parametrize(("method", "path"), _operations())
def test_every_route_refuses_no_key_and_a_wrong_key_with_a_json_401(
    app_host: AppHost, method: str, path: str
) -> None:
    url = app_host.client.base_url + path
    for headers, params in (({}, {}), ({"x-functions-key": "wrong"}, {}), ({}, {"code": "wrong"})):
        response = requests.request(method, url, headers=headers, params=params, json={}, timeout=10)
        assert response.status_code == 401, (method, path, headers, params)
        assert response.json()["error"]["code"] == "unauthorized"


def _privileged_probes(host: AppHost, run_id: str) -> list[tuple[str, str]]:
    hooks = "/runtime/webhooks/durabletask"
    return [
        ("GET", f"{hooks}/instances"),
        ("GET", f"{hooks}/instances/{run_id}"),
        ("POST", f"{hooks}/instances/{run_id}/terminate"),
        ("POST", f"{hooks}/instances/{run_id}/rewind"),
        ("POST", f"{hooks}/instances/{run_id}/raiseEvent/cancel"),
        ("DELETE", f"{hooks}/instances/{run_id}"),
        ("POST", f"{hooks}/orchestrators/run_job/forged-{uuid.uuid4().hex[:6]}"),
        ("GET", "/admin/host/status"),
    ]


def _keys_in(texts: list[str]) -> set[str]:
    """Every value a caller could try as a key: query values of key-like names in any URL, and values of
    key-like JSON fields."""
    found: set[str] = set()
    for text in texts:
        for url in re.findall(r"https?://[^\s\"'<>]+", text):
            found.update(v for k, v in parse_qsl(urlsplit(url).query) if KEYISH.search(k) and v)
        for match in re.finditer(r'"([^"]*)":\s*"([^"]*)"', text):
            if KEYISH.search(match[1]) and match[1] not in ("task_key", "task_keys", "job_cluster_key"):
                found.add(match[2])
    return found


def test_runs_started_through_every_trigger_hand_out_nothing_that_opens_more(app_host: AppHost) -> None:
    client, base = app_host.client, app_host.client.base_url
    auth = {"x-functions-key": FUNCTION_KEY}
    texts: list[str] = []

    def record(response: requests.Response) -> Any:
        texts.append(response.text + "\n" + "\n".join(f"{k}: {v}" for k, v in response.headers.items()))
        return response.json()

    folder = f"auth-{uuid.uuid4().hex[:6]}"
    job = batch_job(
        f"auth-{folder}",
        {"first": "true", "second": "exit 3"},
        triggers=[{"kind": "storage_event", "container": "incoming", "prefix": f"{folder}/"}],
    )
    registered = record(
        requests.post(
            f"{base}/api/jobs", json={"definition": job, "job_id": folder}, headers=auth, timeout=30
        )
    )
    job_id = registered["job_id"]
    run_ids = [
        record(requests.post(f"{base}/api/jobs/{job_id}/runs", json={}, headers=auth, timeout=30))["run_id"]
    ]
    inline = {"definition": batch_job(f"inline-{folder}", {"only": "true"})}
    run_ids.append(record(requests.post(f"{base}/api/runs", json=inline, headers=auth, timeout=30))["run_id"])
    url, etag = upload(app_host, f"{folder}/in.csv", b"a\n")
    run_ids.append(derive_run_id(job_id, url, etag))
    key = f"auth-{uuid.uuid4().hex[:6]}"
    LocalServiceBus(app_host.devhost_state).send(
        "job-requests", json.dumps({"job": job_id, "idempotency_key": key}).encode()
    )
    run_ids.append(derive_run_id(job_id, "servicebus", key))
    for run_id in run_ids:
        app_host.wait_run_done(run_id)
    repaired = record(
        requests.post(f"{base}/api/runs/{run_ids[0]}/repair", json={}, headers=auth, timeout=30)
    )
    run_ids.append(repaired["run_id"])
    app_host.wait_run_done(repaired["run_id"])

    for run_id in run_ids:
        record(requests.get(f"{base}/api/runs/{run_id}", headers=auth, timeout=30))
        record(requests.get(f"{base}/api/runs/{run_id}/tasks/second/logs", headers=auth, timeout=30))
    record(requests.get(f"{base}/api/runs", params={"job": job_id}, headers=auth, timeout=30))
    record(requests.get(f"{base}/api/jobs/{job_id}", headers=auth, timeout=30))
    record(requests.get(f"{base}/api/jobs", headers=auth, timeout=30))
    record(requests.get(f"{base}/api/openapi.json", timeout=30))
    assert client.get_run(run_ids[2])["trigger"]["kind"] == "blob"
    assert client.get_run(run_ids[3])["trigger"]["kind"] == "servicebus"

    everything = "\n".join(texts)
    assert (
        FUNCTION_KEY not in everything and "code=" not in everything and "/runtime/webhooks" not in everything
    )
    found = _keys_in(texts)
    for candidate in sorted(found | {FUNCTION_KEY}):
        for method, path in _privileged_probes(app_host, run_ids[0]):
            for params, headers in (({"code": candidate}, {}), ({}, {"x-functions-key": candidate})):
                response = requests.request(method, base + path, params=params, headers=headers, timeout=10)
                assert response.status_code == 401, (method, path, response.status_code)
    assert client.get_run(run_ids[0])["done"]  # nothing above terminated, purged or rewound it


def test_a_secret_given_to_a_task_is_masked_in_its_logs(app_host: AppHost) -> None:
    """The task's environment references an app setting (here the function key, a real secret of this
    host); the task prints it; the logs API shows the line with the value masked."""
    job = batch_job(
        f"masked-{uuid.uuid4().hex[:6]}",
        {"leak": "python3 -c \"import os; print('given=' + os.environ['GIVEN'])\""},
        environment={"GIVEN": "%DEVHOST_FUNCTION_KEY%"},
    )
    response = requests.post(
        f"{app_host.client.base_url}/api/runs",
        json={"definition": job},
        headers={"x-functions-key": FUNCTION_KEY},
        timeout=30,
    )
    started = response.json()
    assert app_host.wait_run_done(started["run_id"])["result"] == "SUCCESS"
    logs = app_host.client.task_logs(started["run_id"], "leak")
    (attempt,) = logs["attempts"]
    assert attempt["logs"]["stdout.txt"].strip() == "given=***"
    assert FUNCTION_KEY not in json.dumps(logs)
