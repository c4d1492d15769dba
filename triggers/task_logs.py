"""A task's logs: the log links tracking recorded for each attempt, with their text when this app can read
them (a blob in its own storage account, or a local file in local mode). Only the tail is returned, with
the values of the secrets the task was given masked (`jobclusters.execution.secret_masking`)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from azure.core.exceptions import AzureError

from jobclusters.execution.secret_masking import mask_strings, task_secret_values
from jobclusters.services import factory
from jobclusters.services.factory import TriggerServices
from triggers.api_support import ApiError, ApiResult
from triggers.run_view import progress_of, request_of

TAIL_BYTES = 64 * 1024


def _tail(data: bytes) -> str:
    text = data[-TAIL_BYTES:].decode("utf-8", errors="replace")
    return ("...\n" + text) if len(data) > TAIL_BYTES else text


async def _read_link(services: TriggerServices, url: str) -> str | None:
    parsed = urlparse(url)
    if parsed.scheme in ("", "file"):
        if not factory.executors_share_this_filesystem():
            return None
        path = Path(unquote(parsed.path if parsed.scheme else url))
        try:
            return _tail(await asyncio.to_thread(path.read_bytes))
        except OSError:
            return None
    async with factory.storage_account().blob_service_aio() as blobs:
        base = blobs.url.rstrip("/")
        plain = url.split("?", 1)[0]
        if not plain.startswith(base + "/"):
            return None
        container, _, name = unquote(plain[len(base) + 1 :]).partition("/")
        try:
            stream = await blobs.get_blob_client(container, name).download_blob()
            return _tail(await stream.readall())
        except AzureError:
            return None


async def task_logs(services: TriggerServices, client: Any, run_id: str, task_key: str) -> ApiResult:
    status = await client.get_status(run_id, show_input=True)
    tracked = await services.tracked_run(run_id)
    progress = progress_of(status)
    live = progress.tasks.get(task_key) if progress else None
    rows = [r for r in (tracked[1] if tracked else []) if r.task_key == task_key]
    if any(r.generation > 0 for r in rows):
        live = None  # repaired since this instance ran: its latest generation's rows say where it stands
    if live is None and not rows:
        raise ApiError(404, "task_not_found", f"run {run_id!r} has no task {task_key!r} (yet)")
    attempts = []
    for row in sorted(rows, key=lambda r: (r.generation, r.attempt)):
        texts = {name: await _read_link(services, url) for name, url in row.links.logs.items()}
        attempts.append(
            {
                "attempt": row.attempt,
                "generation": row.generation,
                "state": row.state.value,
                "exit_code": row.exit_code,
                "error_message": row.error_message,
                "links": dict(row.links.logs),
                "logs": {k: v for k, v in texts.items() if v is not None},
            }
        )
    request = request_of(status)
    secrets = task_secret_values(request.job, task_key, os.environ) if request else []
    return ApiResult(
        200,
        mask_strings(
            {
                "run_id": run_id,
                "task_key": task_key,
                "state": live.state.value if live else (attempts[-1]["state"] if attempts else None),
                "message": live.message if live else None,
                "attempts": attempts,
            },
            secrets,
        ),
    )
