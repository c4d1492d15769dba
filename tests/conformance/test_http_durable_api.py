"""The Durable HTTP API as the unchanged `DurableOrchestrationClient` and plain HTTP callers see it.

The engine here is a scripted in-memory double, so every status code and JSON shape is checked against
states the test controls; `test_http_async_api.py` runs the same API on the real engine end to end.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import azure.durable_functions as df
import pytest
import requests

from devhost.engine_api import RuntimeStatus
from devhost.invoke import reset_durable_client_session
from tests.conformance.apps.http_support.harness import Served, serve_app
from tests.conformance.apps.http_support.memory_engine import MemoryEngine

APP_DIR = Path(__file__).parent / "apps" / "http_client"
T = TypeVar("T")


@pytest.fixture
def served() -> Iterator[Served]:
    with serve_app(APP_DIR, lambda _app: MemoryEngine()) as s:
        yield s


def engine_of(served: Served) -> MemoryEngine:
    assert isinstance(served.engine, MemoryEngine)
    return served.engine


def with_client(served: Served, use: Callable[[df.DurableOrchestrationClient], Coroutine[Any, Any, T]]) -> T:
    async def run() -> T:
        reset_durable_client_session()
        client = df.DurableOrchestrationClient(served.host.client_binding_json())
        return await use(client)

    return served.call(run())


def start_via_http(
    served: Served, name: str, payload: Any = None, instance_id: str | None = None
) -> requests.Response:
    route = f"orchestrators/{name}" + (f"/{instance_id}" if instance_id else "")
    data = json.dumps(payload) if payload is not None else None
    return requests.post(served.url(route), data=data, timeout=10)


def test_http_starter_returns_202_with_management_urls_on_the_callers_origin(served: Served) -> None:
    r = start_via_http(served, "chain", {"who": "ada"}, instance_id="inst-1")
    assert r.status_code == 202
    body = r.json()
    assert body["id"] == "inst-1"
    assert set(body) >= {
        "statusQueryGetUri",
        "sendEventPostUri",
        "terminatePostUri",
        "purgeHistoryDeleteUri",
        "restartPostUri",
        "suspendPostUri",
        "resumePostUri",
    }
    assert r.headers["Location"] == body["statusQueryGetUri"]
    assert r.headers["Retry-After"] == "10"
    assert body["statusQueryGetUri"].startswith(
        served.origin + "/runtime/webhooks/durabletask/instances/inst-1?"
    )
    assert "taskHub=HttpClientHub" in body["statusQueryGetUri"]
    assert body["sendEventPostUri"].split("?")[0].endswith("/instances/inst-1/raiseEvent/{eventName}")


def test_start_input_reaches_the_engine_encoded_as_the_real_host_passes_it(served: Served) -> None:
    start_via_http(served, "chain", {"who": "ada"}, instance_id="inst-2")
    stored = engine_of(served).instances["inst-2"].input
    assert stored is not None
    # The client JSON-encodes its input and aiohttp encodes that text again; the orchestrator sees it once.
    assert json.loads(stored) == {"who": "ada"}


def test_plain_http_bodies_and_client_bodies_reach_the_engine_as_the_same_json(served: Served) -> None:
    engine = engine_of(served)
    base = served.origin + "/runtime/webhooks/durabletask/orchestrators/chain/"
    assert requests.post(base + "plain", json={"who": "ada"}, timeout=10).status_code == 202
    with_client(served, lambda c: c.start_new("chain", "client", {"who": "ada"}))
    assert json.loads(engine.instances["plain"].input or "") == {"who": "ada"}
    assert json.loads(engine.instances["client"].input or "") == {"who": "ada"}
    requests.post(base + "text", json="ada", timeout=10)
    assert engine.instances["text"].input == '"ada"'
    bad = requests.post(base + "bad", data="{not json", timeout=10)
    assert (bad.status_code, bad.json()["Message"]) == (400, "Invalid JSON content")


def test_status_url_polls_202_while_running_then_200_with_output(served: Served) -> None:
    status_url = start_via_http(served, "chain", "x", instance_id="inst-3").json()["statusQueryGetUri"]
    running = requests.get(status_url, timeout=10)
    assert running.status_code == 202
    assert running.headers["Retry-After"] == "5"
    assert running.headers["Location"] == status_url
    assert running.json()["runtimeStatus"] == "Running"
    engine_of(served).complete("inst-3", json.dumps(["hello x", "hello hello x"]))
    done = requests.get(status_url, timeout=10)
    assert done.status_code == 200
    body = done.json()
    assert body["runtimeStatus"] == "Completed"
    assert body["output"] == ["hello x", "hello hello x"]
    assert body["name"] == "chain"
    assert body["instanceId"] == "inst-3"
    assert datetime.strptime(body["createdTime"], "%Y-%m-%dT%H:%M:%SZ")
    assert body["lastUpdatedTime"] >= body["createdTime"]
    assert "historyEvents" not in body


def test_failed_instance_is_200_unless_asked_for_500(served: Served) -> None:
    status_url = start_via_http(served, "chain", None, instance_id="bad").json()["statusQueryGetUri"]
    engine_of(served).fail("bad", "Orchestrator function 'chain' failed: boom")
    r = requests.get(status_url, timeout=10)
    assert (r.status_code, r.json()["output"]) == (200, "Orchestrator function 'chain' failed: boom")
    assert (
        requests.get(status_url + "&returnInternalServerErrorOnFailure=true", timeout=10).status_code == 500
    )


def test_client_get_status_reads_fields_and_condensed_history(served: Served) -> None:
    start_via_http(served, "chain", "h", instance_id="hist")
    engine_of(served).complete("hist", '"out"')
    status = with_client(served, lambda c: c.get_status("hist", show_history=True, show_history_output=True))
    assert status.runtime_status == df.OrchestrationRuntimeStatus.Completed
    assert status.output == "out"
    assert status.name == "chain"
    assert status.created_time is not None
    history = status.historyEvents
    kinds = [e["EventType"] for e in history]
    assert kinds == ["ExecutionStarted", "TaskCompleted"]
    assert history[0]["FunctionName"] == "chain"
    assert history[1]["FunctionName"] == "say"
    assert history[1]["Result"] == "said"
    assert "ScheduledTime" in history[1]


def test_client_get_status_of_unknown_instance_is_empty(served: Served) -> None:
    status = with_client(served, lambda c: c.get_status("missing"))
    assert not status
    assert (
        requests.get(
            served.origin + "/runtime/webhooks/durabletask/instances/missing", timeout=10
        ).status_code
        == 404
    )


def test_client_get_status_by_filters_on_status_prefix_and_time(served: Served) -> None:
    engine = engine_of(served)
    for iid in ("job-a", "job-b", "other-c"):
        start_via_http(served, "chain", None, instance_id=iid)
    engine.complete("job-b", "1")
    running_jobs = with_client(
        served,
        lambda c: c.get_status_by(
            runtime_status=[df.OrchestrationRuntimeStatus.Running], instance_id_prefix="job-"
        ),
    )
    assert [s.instance_id for s in running_jobs] == ["job-a"]
    created_b = engine.instances["job-b"].created_time
    window = with_client(
        served,
        lambda c: c.get_status_by(
            created_time_from=created_b - timedelta(microseconds=1),
            created_time_to=created_b + timedelta(microseconds=1),
        ),
    )
    assert [s.instance_id for s in window] == ["job-b"]
    everything = with_client(served, lambda c: c.get_status_all())
    assert sorted(s.instance_id for s in everything) == ["job-a", "job-b", "other-c"]


def test_list_pages_with_top_and_the_continuation_token_header(served: Served) -> None:
    for n in range(5):
        start_via_http(served, "chain", None, instance_id=f"page-{n}")
    url = served.origin + "/runtime/webhooks/durabletask/instances/"
    seen: list[str] = []
    token: str | None = None
    pages = 0
    while True:
        headers = {"x-ms-continuation-token": token} if token else {}
        r = requests.get(url, params={"top": "2"}, headers=headers, timeout=10)
        assert r.status_code == 200
        seen += [item["instanceId"] for item in r.json()]
        pages += 1
        token = r.headers.get("x-ms-continuation-token")
        if not token:
            break
    assert pages == 3
    assert seen == [f"page-{n}" for n in range(5)]


def test_list_rejects_bad_filters_naming_the_parameter(served: Served) -> None:
    url = served.origin + "/runtime/webhooks/durabletask/instances/"
    r = requests.get(url, params={"runtimeStatus": "Sleeping"}, timeout=10)
    assert r.status_code == 400
    assert "runtimeStatus" in r.json()["Message"]
    r = requests.get(url, params={"createdTimeFrom": "yesterday"}, timeout=10)
    assert r.status_code == 400
    assert "createdTimeFrom" in r.json()["Message"]


def test_raise_event_passes_the_body_text_and_refuses_missing_or_finished(served: Served) -> None:
    engine = engine_of(served)
    start_via_http(served, "approval", None, instance_id="ev")
    with_client(served, lambda c: c.raise_event("ev", "Approve", {"ok": True}))
    assert len(engine.events) == 1
    iid, name, data = engine.events[0]
    assert (iid, name) == ("ev", "Approve")
    assert data is not None
    assert json.loads(data) == {"ok": True}
    with pytest.raises(Exception, match="No instance with ID missing found"):
        with_client(served, lambda c: c.raise_event("missing", "Approve", 1))
    engine.complete("ev", "null")
    with pytest.raises(Exception, match="is gone"):
        with_client(served, lambda c: c.raise_event("ev", "Approve", 1))


def test_raise_event_needs_json_content(served: Served) -> None:
    start_via_http(served, "approval", None, instance_id="ct")
    url = served.origin + "/runtime/webhooks/durabletask/instances/ct/raiseEvent/Approve"
    r = requests.post(url, data="yes", headers={"Content-Type": "text/plain"}, timeout=10)
    assert r.status_code == 400
    assert requests.post(url, json={"a": 1}, timeout=10).status_code == 202


def test_terminate_suspend_resume_through_the_client(served: Served) -> None:
    engine = engine_of(served)
    start_via_http(served, "approval", None, instance_id="ctl")
    with_client(served, lambda c: c.suspend("ctl", "pause please"))
    assert engine.instances["ctl"].runtime_status is RuntimeStatus.SUSPENDED
    suspended = requests.get(served.origin + "/runtime/webhooks/durabletask/instances/ctl", timeout=10)
    assert (suspended.status_code, suspended.json()["runtimeStatus"]) == (202, "Suspended")
    with_client(served, lambda c: c.resume("ctl", "go on"))
    with_client(served, lambda c: c.terminate("ctl", "stop it"))
    assert engine.calls == [
        ("suspend", "ctl", "pause please"),
        ("resume", "ctl", "go on"),
        ("terminate", "ctl", "stop it"),
    ]
    status = with_client(served, lambda c: c.get_status("ctl"))
    assert status.runtime_status == df.OrchestrationRuntimeStatus.Terminated
    assert status.output == "stop it"
    with_client(served, lambda c: c.terminate("ctl", "again"))  # 410 Gone: the client accepts it
    assert engine.calls[-1] == ("terminate", "ctl", "stop it")
    with pytest.raises(Exception, match="No instance with ID 'nope' found"):
        with_client(served, lambda c: c.terminate("nope", "x"))


def test_terminate_post_uri_works_with_plain_http(served: Served) -> None:
    body = start_via_http(served, "approval", None, instance_id="plain").json()
    url = body["terminatePostUri"].replace("{text}", "bye")
    assert requests.post(url, timeout=10).status_code == 202
    assert engine_of(served).instances["plain"].output == "bye"
    assert requests.post(url, timeout=10).status_code == 410


def test_purge_one_needs_a_terminal_instance(served: Served) -> None:
    start_via_http(served, "chain", None, instance_id="p1")
    with pytest.raises(Exception, match="412"):
        with_client(served, lambda c: c.purge_instance_history("p1"))
    engine_of(served).complete("p1", "1")
    result = with_client(served, lambda c: c.purge_instance_history("p1"))
    assert result.instances_deleted == 1
    assert with_client(served, lambda c: c.purge_instance_history("p1")).instances_deleted == 0


def test_purge_many_by_time_and_status(served: Served) -> None:
    engine = engine_of(served)
    for iid in ("m1", "m2", "m3"):
        start_via_http(served, "chain", None, instance_id=iid)
    engine.complete("m1", "1")
    engine.complete("m2", "2")
    result = with_client(
        served,
        lambda c: c.purge_instance_history_by(
            created_time_from=datetime(2000, 1, 1, tzinfo=UTC),
            runtime_status=[df.OrchestrationRuntimeStatus.Completed],
        ),
    )
    assert result.instances_deleted == 2
    assert sorted(engine.instances) == ["m3"]
    r = requests.delete(served.origin + "/runtime/webhooks/durabletask/instances/", timeout=10)
    assert r.status_code == 400


def test_start_of_an_unknown_orchestrator_is_a_clear_client_error(served: Served) -> None:
    with pytest.raises(Exception, match="'nosuch' doesn't exist.*'approval', 'chain'"):
        with_client(served, lambda c: c.start_new("nosuch"))


def test_start_with_the_id_of_a_running_instance_is_a_conflict(served: Served) -> None:
    assert start_via_http(served, "chain", None, instance_id="dup").status_code == 202
    r = requests.post(served.origin + "/runtime/webhooks/durabletask/orchestrators/chain/dup", timeout=10)
    assert r.status_code == 409
    assert "dup" in r.json()["Message"]


def test_start_and_wait_returns_the_output_when_done_in_time(served: Served) -> None:
    url = served.origin + "/runtime/webhooks/durabletask/orchestrators/chain/waited"
    r = requests.post(url, params={"timeout": "0.2", "pollingInterval": "0.05"}, timeout=10)
    assert r.status_code == 202
    assert r.json()["id"] == "waited"


def test_rewind_is_501_with_a_clear_message_and_restart_starts_again(served: Served) -> None:
    start_via_http(served, "chain", "again", instance_id="rw")
    engine_of(served).fail("rw", "boom")
    with pytest.raises(Exception, match="Rewind is not supported by devhost"):
        with_client(served, lambda c: c.rewind("rw", "why"))
    r = requests.post(served.origin + "/runtime/webhooks/durabletask/instances/rw/restart", timeout=10)
    assert r.status_code == 202
    new_id = r.json()["id"]
    assert new_id != "rw"
    restarted = engine_of(served).instances[new_id]
    assert (restarted.name, restarted.input) == ("chain", engine_of(served).instances["rw"].input)


def test_client_binding_links_use_the_task_hub_and_the_instance_id(served: Served) -> None:
    r = requests.get(served.url("binding"), timeout=10)
    body = r.json()
    assert body["taskHub"] == "HttpClientHub"
    assert body["links"]["id"] == "abc"
    assert "/instances/abc?" in body["links"]["statusQueryGetUri"]


def test_rpc_base_needs_the_exact_token(served: Served) -> None:
    good = served.host.links.rpc_base_url + "instances/"
    assert requests.get(good, timeout=10).status_code == 200
    bad = good.replace(served.host.links.rpc_token, "guess")
    assert requests.get(bad, timeout=10).status_code == 404
