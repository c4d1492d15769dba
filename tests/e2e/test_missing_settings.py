"""Azure mode with `DATABRICKS_HOST` unset, on a real devhost (issue 11 defect 7): a Databricks task
fails once, at once, with one line naming the setting, and `doctor` names it for the registered job."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from devhost.ports import free_port
from jobclusters.client.api import ApiClient
from jobclusters.client.launcher import EmbeddedDefault
from jobclusters.tracking.table_store import TableRunStore
from tests.e2e.conftest import FUNCTION_KEY, PROJECT_DIR, TAGS, AppHost

pytestmark = pytest.mark.integration

RETRY_INTERVAL_S = 120
#: settings an Azure deployment may carry that would change what this test shows
UNSET = ("DATABRICKS_HOST", "DATABRICKS_TOKEN", "ServiceBusConnection")


def _azure_env(connection: str, prefix: str) -> dict[str, str]:
    return {
        "AzureWebJobsStorage": connection,
        "JOBCLUSTERS_TABLE_PREFIX": prefix,
        "JOBCLUSTERS_MODE": "azure",
        "DEVHOST_FUNCTION_KEY": FUNCTION_KEY,
        # Azure mode needs the run-signing key as a setting (only local mode generates one)
        "JOBCLUSTERS_RUN_SIGNING_KEY": uuid.uuid4().hex,
    }


@pytest.fixture(scope="module")
def azure_host(storage_connection: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppHost]:
    state = tmp_path_factory.mktemp("azure-mode-state")
    prefix = "cfg" + uuid.uuid4().hex[:8]
    port = free_port()
    saved = {name: os.environ.pop(name) for name in UNSET if name in os.environ}
    launcher = EmbeddedDefault(PROJECT_DIR, state, env=_azure_env(storage_connection, prefix), port=port)
    try:
        endpoint = launcher.ensure(timeout=120)
        client = ApiClient(endpoint.base_url, FUNCTION_KEY)
        yield AppHost(launcher, client, storage_connection, prefix, state, port)
    finally:
        launcher.stop()
        os.environ.update(saved)


def databricks_job(name: str) -> dict[str, object]:
    return {
        "format": "jobclusters/v1",
        "name": name,
        "tags": TAGS,
        "tasks": [
            {
                "key": "train",
                "compute": {
                    "kind": "new_cluster",
                    "cluster": {
                        "platform": "databricks",
                        "runtime": "15.4.x-scala2.12",
                        "node_type": "Standard_DS3_v2",
                        "num_workers": 1,
                    },
                },
                "payload": {"kind": "spark_python", "python_file": "dbfs:/jobs/train.py"},
                "retry": {"max_retries": 3, "min_retry_interval_millis": RETRY_INTERVAL_S * 1000},
            }
        ],
    }


def test_a_missing_databricks_host_fails_the_task_once_at_once_with_one_line(azure_host: AppHost) -> None:
    client = azure_host.client
    job = client.register_job(databricks_job("needs-databricks"))
    began = time.monotonic()
    run_id = client.start_job(job["job_id"])["run_id"]

    view = azure_host.wait_run_done(run_id, timeout=RETRY_INTERVAL_S / 2)

    assert time.monotonic() - began < RETRY_INTERVAL_S / 4
    assert view["result"] == "FAILED"
    task = view["tasks"]["train"]
    assert task["state"] == "FAILED"
    message = task["message"]
    assert message.startswith("app setting DATABRICKS_HOST is missing"), message
    assert "\n" not in message and "Traceback" not in message and str(PROJECT_DIR) not in message
    # the admission check said it (it names the task), not a service constructor on a first attempt
    assert "task 'train' at $.tasks[0]" in message

    record, rows = TableRunStore(
        azure_host.connection, table_prefix=azure_host.table_prefix
    ).get_run_with_tasks(run_id)
    assert record is not None and record.state == "FAILED"
    attempts = [r for r in rows if r.task_key == "train"]
    assert [(r.attempt, r.state) for r in attempts] == [(1, "FAILED")]
    assert attempts[0].error_message == message


def test_doctor_names_the_missing_setting_of_the_registered_databricks_job(azure_host: AppHost) -> None:
    azure_host.client.register_job(databricks_job("doctor-databricks"), job_id="doctor-databricks")
    env = {k: v for k, v in os.environ.items() if k not in UNSET}
    env.update(_azure_env(azure_host.connection, azure_host.table_prefix))
    env["PYTHONPATH"] = str(PROJECT_DIR)

    done = subprocess.run(
        [sys.executable, "-m", "jobclusters", "doctor"],
        capture_output=True,
        text=True,
        env=env,
        cwd=Path(azure_host.state_dir),
        timeout=120,
    )

    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert (
        "missing: doctor-databricks: app setting DATABRICKS_HOST is missing (needed for Databricks: "
        "task 'train' at $.tasks[0].compute.cluster): expected the workspace URL, "
        "https://adb-<id>.<n>.azuredatabricks.net"
    ) in lines, done.stdout
    assert lines[-1].startswith("mode azure:") and "required setting problem" in lines[-1]
    assert azure_host.connection not in done.stdout
