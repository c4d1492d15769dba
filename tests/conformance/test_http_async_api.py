"""The async HTTP API pattern end to end on the real durable engine, over real loopback HTTP.

An HTTP starter uses the unchanged `DurableOrchestrationClient` (`start_new` +
`create_check_status_response`); the test then polls the status URL with plain HTTP until Completed, and
drives the other management operations both through the client and through the returned URLs.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Coroutine, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import azure.durable_functions as df
import pytest
import requests

from devhost.app_loader import LoadedApp
from devhost.engine import DurableEngine
from devhost.invoke import reset_durable_client_session
from tests.conformance.apps.http_support.harness import Served, serve_app

APP_DIR = Path(__file__).parent / "apps" / "http_client"
T = TypeVar("T")


def _engine(app: LoadedApp) -> DurableEngine:
    return DurableEngine(app, None)


async def _start(engine: Any) -> None:
    await engine.start()


async def _stop(engine: Any) -> None:
    await engine.stop()


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    with serve_app(APP_DIR, _engine, start_engine=_start, stop_engine=_stop) as s:
        yield s


def with_client(served: Served, use: Callable[[df.DurableOrchestrationClient], Coroutine[Any, Any, T]]) -> T:
    async def run() -> T:
        reset_durable_client_session()
        return await use(df.DurableOrchestrationClient(served.host.client_binding_json()))

    return served.call(run())


def poll_until_done(status_url: str, timeout: float = 20.0) -> requests.Response:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = requests.get(status_url, timeout=10)
        if r.status_code != 202:
            return r
        time.sleep(0.05)
    raise AssertionError(f"still running after {timeout}s: {status_url}")


def test_starter_202_then_polling_the_status_url_until_completed(served: Served) -> None:
    r = requests.post(served.url("orchestrators/chain"), data=json.dumps("ada"), timeout=10)
    assert r.status_code == 202
    links = r.json()
    assert r.headers["Location"] == links["statusQueryGetUri"]
    done = poll_until_done(links["statusQueryGetUri"])
    assert done.status_code == 200
    body = done.json()
    assert body["runtimeStatus"] == "Completed"
    assert body["output"] == ["hello ada", "hello hello ada"]
    assert body["customStatus"] == {"step": "done"}
    assert body["instanceId"] == links["id"]


def test_external_event_through_the_send_event_url_completes_the_instance(served: Served) -> None:
    links = requests.post(served.url("orchestrators/approval/appr-1"), timeout=10).json()
    assert requests.get(links["statusQueryGetUri"], timeout=10).status_code == 202
    send = links["sendEventPostUri"].replace("{eventName}", "Approve")
    assert requests.post(send, json="yes", timeout=10).status_code == 202
    done = poll_until_done(links["statusQueryGetUri"])
    assert done.json()["output"] == {"decision": "yes"}


def test_client_raise_event_delivers_the_value_the_orchestrator_waits_for(served: Served) -> None:
    iid = with_client(served, lambda c: c.start_new("approval", "appr-2"))
    with_client(served, lambda c: c.raise_event(iid, "Approve", {"by": "lead"}))
    state = served.call(served.engine.wait_for_terminal(iid, 20))
    assert json.loads(state.output) == {"decision": {"by": "lead"}}


def test_client_status_queries_filters_and_history_on_the_real_engine(served: Served) -> None:
    before = datetime.now(UTC) - timedelta(seconds=1)
    iid = with_client(served, lambda c: c.start_new("chain", "q-chain", "bob"))
    served.call(served.engine.wait_for_terminal(iid, 20))
    waiting = with_client(served, lambda c: c.start_new("approval", "q-wait"))
    status = with_client(served, lambda c: c.get_status(iid, show_history=True, show_history_output=True))
    assert status.runtime_status == df.OrchestrationRuntimeStatus.Completed
    assert status.output == ["hello bob", "hello hello bob"]
    assert status.input_ == "bob"
    events = status.historyEvents
    completed = [e for e in events if e["EventType"] == "TaskCompleted"]
    assert [e["FunctionName"] for e in completed] == ["greet", "greet"]
    assert completed[0]["Result"] == "hello bob"
    assert events[0]["EventType"] == "ExecutionStarted"
    assert events[-1]["EventType"] == "ExecutionCompleted"
    running = with_client(
        served,
        lambda c: c.get_status_by(
            created_time_from=before, runtime_status=[df.OrchestrationRuntimeStatus.Running]
        ),
    )
    assert waiting in [s.instance_id for s in running]
    assert iid not in [s.instance_id for s in running]
    by_prefix = with_client(served, lambda c: c.get_status_by(instance_id_prefix="q-"))
    assert sorted(s.instance_id for s in by_prefix) == ["q-chain", "q-wait"]
    assert {"q-chain", "q-wait"} <= {s.instance_id for s in with_client(served, lambda c: c.get_status_all())}


def test_list_pages_through_the_real_engine_with_the_continuation_header(served: Served) -> None:
    for n in range(5):
        iid = f"pg-{n}"

        async def start(c: df.DurableOrchestrationClient, iid: str = iid) -> str:
            return await c.start_new("approval", iid)

        with_client(served, start)
    url = served.origin + "/runtime/webhooks/durabletask/instances/"
    seen: list[str] = []
    token: str | None = None
    for _ in range(10):
        headers = {"x-ms-continuation-token": token} if token else {}
        r = requests.get(url, params={"top": "2", "instanceIdPrefix": "pg-"}, headers=headers, timeout=10)
        page = [item["instanceId"] for item in r.json()]
        assert len(page) <= 2
        seen += page
        token = r.headers.get("x-ms-continuation-token")
        if not token:
            break
    assert sorted(seen) == [f"pg-{n}" for n in range(5)]


def test_terminate_then_purge_through_the_client(served: Served) -> None:
    iid = with_client(served, lambda c: c.start_new("approval", "term-1"))
    with pytest.raises(Exception, match="412"):
        with_client(served, lambda c: c.purge_instance_history(iid))
    with_client(served, lambda c: c.terminate(iid, "no longer needed"))
    state = served.call(served.engine.wait_for_terminal(iid, 20))
    assert state.runtime_status.value == "Terminated"
    status = with_client(served, lambda c: c.get_status(iid))
    assert status.runtime_status == df.OrchestrationRuntimeStatus.Terminated
    assert with_client(served, lambda c: c.purge_instance_history(iid)).instances_deleted == 1
    assert not with_client(served, lambda c: c.get_status(iid))


def test_suspend_and_resume_through_the_management_urls(served: Served) -> None:
    links = requests.post(served.url("orchestrators/approval/sus-1"), timeout=10).json()
    poll_deadline = time.monotonic() + 10
    while requests.get(links["statusQueryGetUri"], timeout=10).json()["runtimeStatus"] != "Running":
        assert time.monotonic() < poll_deadline
        time.sleep(0.05)
    assert requests.post(links["suspendPostUri"].replace("{text}", "hold"), timeout=10).status_code == 202
    deadline = time.monotonic() + 10
    while requests.get(links["statusQueryGetUri"], timeout=10).json()["runtimeStatus"] != "Suspended":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert requests.post(links["resumePostUri"].replace("{text}", "go"), timeout=10).status_code == 202
    send = links["sendEventPostUri"].replace("{eventName}", "Approve")
    assert requests.post(send, json="after resume", timeout=10).status_code == 202
    assert poll_until_done(links["statusQueryGetUri"]).json()["output"] == {"decision": "after resume"}


def test_purge_many_through_the_client(served: Served) -> None:
    since = datetime.now(UTC)
    iid = with_client(served, lambda c: c.start_new("chain", "pm-1", "x"))
    served.call(served.engine.wait_for_terminal(iid, 20))
    result = with_client(
        served,
        lambda c: c.purge_instance_history_by(
            created_time_from=since - timedelta(seconds=1),
            runtime_status=[df.OrchestrationRuntimeStatus.Completed],
        ),
    )
    assert result.instances_deleted >= 1
    assert not with_client(served, lambda c: c.get_status(iid))


def test_start_and_wait_returns_the_output_directly(served: Served) -> None:
    url = served.origin + "/runtime/webhooks/durabletask/orchestrators/chain"
    r = requests.post(url, params={"timeout": "20", "pollingInterval": "1"}, json="cy", timeout=30)
    assert r.status_code == 200
    assert r.json() == ["hello cy", "hello hello cy"]


def test_unknown_orchestrator_is_refused_by_the_api_with_the_known_names(served: Served) -> None:
    r = requests.post(served.origin + "/runtime/webhooks/durabletask/orchestrators/nosuch", timeout=10)
    assert r.status_code == 400
    assert "'nosuch' doesn't exist" in r.json()["ExceptionMessage"]
    assert "'approval', 'chain'" in r.json()["ExceptionMessage"]


def test_purge_and_restart_urls_work_with_plain_http(served: Served) -> None:
    links = requests.post(served.url("orchestrators/chain/pr-1"), json="dee", timeout=10).json()
    assert poll_until_done(links["statusQueryGetUri"]).status_code == 200
    restarted = requests.post(links["restartPostUri"], timeout=10)
    assert restarted.status_code == 202
    new_links = restarted.json()
    assert new_links["id"] != "pr-1"
    assert poll_until_done(new_links["statusQueryGetUri"]).json()["output"] == [
        "hello dee",
        "hello hello dee",
    ]
    purged = requests.delete(links["purgeHistoryDeleteUri"], timeout=10)
    assert (purged.status_code, purged.json()) == (200, {"instancesDeleted": 1})
    assert requests.get(links["statusQueryGetUri"], timeout=10).status_code == 404
