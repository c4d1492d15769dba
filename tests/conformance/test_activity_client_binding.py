"""An activity's durable client binding is filled as for any function: with the binding the host's
Durable HTTP API gives out, or left to its default where no such API is served."""

from __future__ import annotations

import json
from typing import Any

from devhost.app_loader import load_app
from devhost.http.links import DurableLinks
from tests.conformance.helpers import APPS, run_to_end, run_with_engine


def test_an_activity_gets_the_hosts_durable_client_binding() -> None:
    links = DurableLinks(origin="http://127.0.0.1:7999", task_hub="Hub", system_key="k")

    async def scenario(engine: Any) -> Any:
        return await run_to_end(engine, "ask_client")

    state = run_with_engine(
        load_app(APPS / "activity_client"),
        scenario,
        client_binding=lambda hub, conn: links.client_binding_json(task_hub=hub, connection=conn),
    )
    assert state.runtime_status.value == "Completed"
    uri = json.loads(state.output or "null")
    assert uri.startswith(
        "http://127.0.0.1:7999/runtime/webhooks/durabletask/instances/INSTANCEID/raiseEvent/"
    )
    assert "code=k" in uri


def test_without_a_durable_http_api_the_binding_is_none() -> None:
    async def scenario(engine: Any) -> Any:
        return await run_to_end(engine, "ask_client")

    state = run_with_engine(load_app(APPS / "activity_client"), scenario)
    assert state.runtime_status.value == "Completed"
    assert json.loads(state.output or "0") is None
