"""Functions for invoker tests: sync/async, context, durable client on a non-HTTP trigger, Out bindings."""

import threading

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.queue_trigger(arg_name="msg", queue_name="work", connection="AzureWebJobsStorage")
@app.durable_client_input(client_name="client")
async def queue_starter(msg: str, client: df.DurableOrchestrationClient) -> str:
    instance_id = await client.start_new("echo", None, msg)
    return instance_id


@app.queue_trigger(arg_name="msg", queue_name="sync", connection="AzureWebJobsStorage")
@app.queue_output(arg_name="out", queue_name="done", connection="AzureWebJobsStorage")
def sync_worker(msg: str, out: func.Out[str], context: func.Context) -> None:
    out.set(f"{msg}|{context.function_name}|{threading.current_thread().name}")


@app.blob_trigger(arg_name="blob", path="in/{name}", connection="AzureWebJobsStorage")
@app.blob_input(arg_name="extra", path="other/x", connection="AzureWebJobsStorage")
def needs_blob_input(blob: func.InputStream, extra: func.InputStream) -> None:
    raise AssertionError("never called: 'extra' is not served")


@app.orchestration_trigger(context_name="context")
def echo(context: df.DurableOrchestrationContext):
    return context.get_input()
