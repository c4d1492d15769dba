"""HTTP starters using the unchanged durable client, plus the orchestrations and activities they start."""

import json

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="orchestrators/{functionName}/{instanceId?}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def http_start(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    body = req.get_body()
    payload = json.loads(body) if body else None
    instance_id = await client.start_new(
        req.route_params["functionName"], req.route_params.get("instanceId"), payload
    )
    return client.create_check_status_response(req, instance_id)


@app.route(route="binding", methods=["GET"])
@app.durable_client_input(client_name="client")
async def show_binding(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    links = client.create_http_management_payload("abc")
    return func.HttpResponse(
        json.dumps({"taskHub": client._orchestration_bindings.task_hub_name, "links": links}),
        mimetype="application/json",
    )


@app.orchestration_trigger(context_name="context")
def chain(context: df.DurableOrchestrationContext):
    name = context.get_input() or "world"
    first = yield context.call_activity("greet", name)
    second = yield context.call_activity("greet", first)
    context.set_custom_status({"step": "done"})
    return [first, second]


@app.orchestration_trigger(context_name="context")
def approval(context: df.DurableOrchestrationContext):
    decision = yield context.wait_for_external_event("Approve")
    return {"decision": decision}


@app.activity_trigger(input_name="name")
def greet(name: str) -> str:
    return f"hello {name}"
