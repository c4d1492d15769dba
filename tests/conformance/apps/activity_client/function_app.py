"""Conformance app: an activity with a durable client binding (the Functions host fills it for any
function, activities included)."""

from __future__ import annotations

import json

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.orchestration_trigger(context_name="context")
def ask_client(context: df.DurableOrchestrationContext):
    return (yield context.call_activity("client_info", None))


@app.activity_trigger(input_name="payload")
@app.generic_input_binding(arg_name="client", type="durableClient")
def client_info(payload: object, client: str | None = None) -> object:
    if client is None:
        return None
    return json.loads(client)["managementUrls"]["sendEventPostUri"]
