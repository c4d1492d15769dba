"""Blob upload -> durable orchestration -> output blob, served by the whole devhost (`serve`)."""

from __future__ import annotations

import os
from collections.abc import Generator
from typing import Any

import azure.durable_functions as df
import azure.functions as func
from azure.storage.blob import BlobServiceClient

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.blob_trigger(arg_name="blob", path="%E2E_IN%/{name}.txt", connection="AzureWebJobsStorage")
@app.durable_client_input(client_name="client")
async def on_upload(blob: func.InputStream, client: df.DurableOrchestrationClient) -> None:
    await client.start_new("process_blob", client_input={"name": blob.name, "text": blob.read().decode()})


@app.orchestration_trigger(context_name="context")
def process_blob(context: df.DurableOrchestrationContext) -> Generator[Any, Any, str]:
    data = context.get_input()
    upper = yield context.call_activity("shout", data["text"])
    saved: str = yield context.call_activity("save", {"name": data["name"], "text": upper})
    return saved


@app.activity_trigger(input_name="text")
def shout(text: str) -> str:
    return text.upper()


@app.activity_trigger(input_name="item")
def save(item: dict[str, str]) -> str:
    service = BlobServiceClient.from_connection_string(os.environ["AzureWebJobsStorage"])  # noqa: SIM112
    name = item["name"].split("/", 1)[1].removesuffix(".txt") + ".out"
    service.get_blob_client(os.environ["E2E_OUT"], name).upload_blob(item["text"].encode(), overwrite=True)
    return name
