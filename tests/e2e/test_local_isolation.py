"""Local isolation through real embedded defaults: two hosts on chosen ports over two storage accounts run
their own jobs side by side, and `devhost send-message` without `--state` reaches the host the CLI
started (its state folder inside the project), not a default folder no host reads."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devhost.azurite import AzuriteProcess, start_azurite
from devhost.ports import free_port
from jobclusters.client.api import ApiClient
from jobclusters.client.launcher import EmbeddedDefault, LaunchError
from jobclusters.tracking.table_store import TableRunStore
from tests.e2e.conftest import FUNCTION_KEY, PROJECT_DIR, batch_job
from tests.eventually import eventually

pytestmark = pytest.mark.integration


@pytest.fixture
def second_storage() -> Iterator[AzuriteProcess]:
    with start_azurite(None, project_dir=PROJECT_DIR) as proc:
        yield proc


def host_env(connection: str, prefix: str, **extra: str) -> dict[str, str]:
    return {
        "AzureWebJobsStorage": connection,
        "JOBCLUSTERS_TABLE_PREFIX": prefix,
        "JOBCLUSTERS_MODE": "local",
        "DEVHOST_FUNCTION_KEY": FUNCTION_KEY,
        **extra,
    }


def marking_job(marks: Path) -> dict[str, object]:
    script = "import sys; open(sys.argv[1], 'a').write(sys.argv[2] + chr(10))"
    return batch_job("isolated", {"mark": f'python3 -c "{script}" {marks} {{{{job.run_id}}}}'})


def finished(client: ApiClient, run_id: str) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        view = client.get_run(run_id)
        return view if view.get("done") else None

    result: dict[str, Any] = eventually(done, timeout=120, what=f"run {run_id} to finish")
    return result


def run_ids(connection: str, prefix: str, job_id: str) -> set[str]:
    store = TableRunStore(connection, table_prefix=prefix)
    return {r.run_id for r in store.list_runs_for_job(job_id).items}


def test_two_embedded_defaults_run_their_own_jobs_and_send_message_finds_the_cli_host(
    storage_connection: str, second_storage: AzuriteProcess, tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex[:6]
    prefix = f"iso{tag}"
    port_a, port_b = free_port(), free_port()
    # A: started as the CLI does, state inside the project, port from JOBCLUSTERS_PORT.
    cli_state = PROJECT_DIR / ".state" / f"isolation-{tag}"
    a = EmbeddedDefault(
        PROJECT_DIR, cli_state, env=host_env(storage_connection, prefix, JOBCLUSTERS_PORT=str(port_a))
    )
    # B: a test host elsewhere, on another storage account, port chosen explicitly.
    b = EmbeddedDefault(
        PROJECT_DIR, tmp_path / "b", env=host_env(second_storage.connection_string, prefix), port=port_b
    )
    try:
        endpoint_a, endpoint_b = a.ensure(timeout=120), b.ensure(timeout=120)
        assert endpoint_a.base_url.endswith(f":{port_a}") and endpoint_b.base_url.endswith(f":{port_b}")
        with pytest.raises(LaunchError, match="in use"):
            EmbeddedDefault(
                PROJECT_DIR, tmp_path / "c", env=host_env(storage_connection, prefix), port=port_a
            ).ensure()

        started: dict[str, tuple[str, Path]] = {}
        for name, endpoint in (("a", endpoint_a), ("b", endpoint_b)):
            client = ApiClient(endpoint.base_url, FUNCTION_KEY)
            marks = tmp_path / f"marks-{name}.txt"
            job = client.register_job(marking_job(marks), job_id=f"iso-{tag}")
            run_id = client.start_job(job["job_id"], {})["run_id"]
            assert finished(client, run_id)["result"] == "SUCCESS"
            started[name] = (run_id, marks)
        (run_a, marks_a), (run_b, marks_b) = started["a"], started["b"]
        assert marks_a.read_text().split() == [run_a] and marks_b.read_text().split() == [run_b]
        assert run_ids(storage_connection, prefix, f"iso-{tag}") == {run_a}
        assert run_ids(second_storage.connection_string, prefix, f"iso-{tag}") == {run_b}

        body = json.dumps({"job": f"iso-{tag}", "idempotency_key": f"bus-{tag}"})
        sent = subprocess.run(
            [
                sys.executable,
                "-m",
                "devhost",
                "--app",
                str(PROJECT_DIR),
                "send-message",
                "--queue",
                "job-requests",
                "--body",
                body,
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert sent.returncode == 0, sent.stderr
        assert Path(json.loads(sent.stdout)["state"]) == (cli_state / "devhost").resolve()
        eventually(
            lambda: len(marks_a.read_text().split()) == 2,
            timeout=120,
            what="the Service Bus run on the CLI host",
        )
        assert len(run_ids(storage_connection, prefix, f"iso-{tag}")) == 2
        assert marks_b.read_text().split() == [run_b]
    finally:
        a.stop()
        b.stop()
        shutil.rmtree(cli_state, ignore_errors=True)
