"""One real devhost process serving this project's app, on a private Azurite, for the e2e tests.

It is started with the user CLI's own launcher (`EmbeddedDefault`), so starting the embedded default is
exercised too; the state folder, table prefix and port are private to the session.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from azure.storage.blob import BlobServiceClient

from devhost.ports import free_port
from jobclusters.client.api import ApiClient
from jobclusters.client.launcher import EmbeddedDefault
from tests.eventually import eventually

PROJECT_DIR = Path(__file__).resolve().parents[2]
FUNCTION_KEY = "e2e-function-key-5f1c"
TAGS = {"Project": "e2e", "Environment": "test", "CostCenter": "cc-0", "Owner": "tests"}


@dataclass
class AppHost:
    launcher: EmbeddedDefault
    client: ApiClient
    connection: str
    table_prefix: str
    state_dir: Path
    port: int

    @property
    def devhost_state(self) -> Path:
        return self.state_dir / "devhost"

    def wait_run_done(self, run_id: str, timeout: float = 90.0) -> dict[str, Any]:
        return eventually(
            lambda: _done(self.client, run_id), timeout=timeout, interval=0.25, what=f"run {run_id} to finish"
        )


def _done(client: ApiClient, run_id: str) -> dict[str, Any] | None:
    from jobclusters.client.api import ApiClientError

    try:
        view = client.get_run(run_id)
    except ApiClientError as exc:
        if exc.status == 404:
            return None
        raise
    return view if view.get("done") else None


def blob_text(connection: str, url: str) -> str:
    """The blob a link names, read straight from storage (not through the app): ground truth for logs."""
    blobs = BlobServiceClient.from_connection_string(connection)
    base = blobs.url.rstrip("/")
    assert url.startswith(base + "/"), url
    container, _, name = unquote(url[len(base) + 1 :]).partition("/")
    return blobs.get_blob_client(container, name).download_blob().readall().decode()


def batch_job(name: str, commands: dict[str, str], **extra: Any) -> dict[str, Any]:
    """A native job whose tasks run one after another as local Batch commands."""
    tasks = []
    previous = None
    for key, command in commands.items():
        task: dict[str, Any] = {
            "key": key,
            "compute": {"kind": "job_cluster", "job_cluster_key": "pool"},
            "payload": {"kind": "command", "command_line": command},
        }
        if previous:
            task["depends_on"] = [{"task_key": previous}]
        tasks.append(task)
        previous = key
    return {
        "format": "jobclusters/v1",
        "name": name,
        "tags": TAGS,
        "job_clusters": [
            {
                "key": "pool",
                "cluster": {"platform": "batch", "node_type": "Standard_D2s_v3", "num_workers": 1},
            }
        ],
        "tasks": tasks,
        **extra,
    }


def start_host(connection: str, state: Path, prefix: str, port: int) -> AppHost:
    env = {
        "AzureWebJobsStorage": connection,
        "JOBCLUSTERS_TABLE_PREFIX": prefix,
        "JOBCLUSTERS_MODE": "local",
        "JOBCLUSTERS_SCHEDULER_CRON": "*/1 * * * * *",
        "DEVHOST_FUNCTION_KEY": FUNCTION_KEY,
        "DEVHOST_BLOB_POLL_MS": "100",
    }
    launcher = EmbeddedDefault(PROJECT_DIR, state, env=env, port=port)
    endpoint = launcher.ensure(timeout=120)
    return AppHost(launcher, ApiClient(endpoint.base_url, FUNCTION_KEY), connection, prefix, state, port)


@pytest.fixture(scope="session")
def app_host(storage_connection: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppHost]:
    state = tmp_path_factory.mktemp("e2e-state")
    prefix = "e2e" + uuid.uuid4().hex[:8]
    host = start_host(storage_connection, state, prefix, free_port())
    try:
        yield host
    finally:
        host.launcher.stop()
