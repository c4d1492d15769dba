"""devhost serves the durable client binding to an activity that declares one, as Azure does: the body
gets a `DurableOrchestrationClient` on the host's management URLs (tests/conformance covers the binding
left to its default where no HTTP API is served)."""

from __future__ import annotations

import asyncio
from typing import Any

import azure.durable_functions as df

from devhost.engine.activities import ActivityRunner, ActivityWork
from devhost.http.links import DurableLinks


def _activity() -> Any:
    app = df.DFApp()

    @app.activity_trigger(input_name="payload")
    @app.durable_client_input(client_name="client")
    async def hub_of(payload: str, client: df.DurableOrchestrationClient) -> str:
        return f"{payload}:{client._orchestration_bindings.task_hub_name}"

    (fn,) = app.get_functions()
    return fn


def _run(runner: ActivityRunner) -> Any:
    return asyncio.run(runner.run(ActivityWork("i", "e", 1, "hub_of", '"hello"')))


def test_an_activity_gets_the_durable_client_on_the_hosts_links() -> None:
    links = DurableLinks("http://127.0.0.1:7071", "MyHub", system_key="k")
    runner = ActivityRunner({"hub_of": _activity()}, 1)
    runner.client_binding = lambda hub, conn: links.client_binding_json(task_hub=hub, connection=conn)
    try:
        outcome = _run(runner)
    finally:
        runner.close()
    assert outcome.ok, outcome.reason
    assert outcome.result == '"hello:MyHub"'

