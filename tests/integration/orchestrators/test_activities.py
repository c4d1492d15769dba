"""Activities against Azurite and loopback servers: the cancel handshake, run slots, webhooks, inputs."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from azure.storage.blob import BlobServiceClient

from activities import cluster as cluster_activities
from activities import control, inputs, notify
from jobclusters.execution.job_files import resource_file, stage
from jobclusters.execution.messages import TaskRunInput
from jobclusters.services import factory
from jobclusters.services.blob_io import BlobIO
from jobclusters.services.cluster import ClusterRunRequest, LifeCycle, RunHandle, RunOutput, RunState
from jobclusters.services.local_batch.files import fetch_resource_files
from jobclusters.spec.model import Task
from tests.eventually import eventually
from tests.integration.orchestrators.harness import AppEnv


def call(activity: Any, payload: dict[str, Any]) -> Any:
    return activity.build().get_user_function()(payload)


class RecordingClusters:
    backend = "local"

    def __init__(self) -> None:
        self.submitted: list[str] = []
        self.cancelled: list[str] = []

    def submit(self, request: ClusterRunRequest, idempotency_key: str) -> RunHandle:
        self.submitted.append(idempotency_key)
        return RunHandle(
            backend="local", run_id=f"remote-{len(self.submitted)}", idempotency_key=idempotency_key
        )

    def get_state(self, handle: RunHandle) -> RunState:
        return RunState(run_id=handle.run_id, life_cycle=LifeCycle.RUNNING)

    def cancel(self, handle: RunHandle) -> None:
        self.cancelled.append(handle.run_id)

    def get_output(self, handle: RunHandle) -> RunOutput:
        return RunOutput(run_id=handle.run_id)


def submit_payload(control_id: str) -> dict[str, Any]:
    run = TaskRunInput(
        run_id=control_id,
        control_id=control_id,
        job_id="j",
        job_name="J",
        task=Task.model_validate({"key": "t", "payload": {"kind": "spark_python", "python_file": "a.py"}}),
    )
    return {"run": run.model_dump(mode="json"), "attempt_id": f"{control_id}:t:r0:a0", "idempotency_key": "k"}


def test_a_cancelled_run_submits_nothing_and_a_cancel_reaches_every_registered_run(app_env: AppEnv) -> None:
    clusters = RecordingClusters()
    factory.override("cluster:local", clusters)
    submitted = call(cluster_activities.cluster_submit, submit_payload("run-a"))
    assert submitted["handle"]["run_id"] == "remote-1" and not submitted["canceled"]
    assert call(control.request_run_cancel, {"run_id": "run-a", "reason": "user"}) == 1
    assert clusters.cancelled == ["remote-1"]

    again = call(cluster_activities.cluster_submit, submit_payload("run-a"))
    assert again == {"handle": None, "canceled": True, "error": None, "compute": None, "compute_info": None}
    assert clusters.submitted == ["k"]
    poll = call(
        cluster_activities.cluster_poll,
        {"run_id": "run-a", "attempt_id": "x", "handle": submitted["handle"]},
    )
    assert (poll["terminal"], poll["state"], poll["canceled"]) == (True, "CANCELED", True)

    other = call(cluster_activities.cluster_submit, submit_payload("run-b"))
    assert not other["canceled"], "a cancel marker belongs to one run"


def test_run_slots_are_claimed_once_per_run_and_released(app_env: AppEnv) -> None:
    def claim(run_id: str) -> dict[str, Any]:
        return dict(
            call(control.claim_run_slot, {"job_id": "job", "run_id": run_id, "max_concurrent_runs": 2})
        )

    assert claim("r1")["slot"] == 0
    assert claim("r1")["slot"] == 0, "claiming again is idempotent"
    assert claim("r2")["slot"] == 1
    third = claim("r3")
    assert not third["claimed"] and sorted(third["holders"]) == ["r1", "r2"]
    assert call(control.release_run_slot, {"job_id": "job", "run_id": "r1", "max_concurrent_runs": 2}) is True
    assert (
        call(control.release_run_slot, {"job_id": "job", "run_id": "r1", "max_concurrent_runs": 2}) is False
    )
    assert claim("r3")["slot"] == 0


class StatusServer:
    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.count = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                status = server.statuses[min(server.count, len(server.statuses) - 1)]
                server.count += 1
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}/"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()


@pytest.fixture
def status_server() -> Iterator[Callable[[list[int]], StatusServer]]:
    servers: list[StatusServer] = []

    def make(statuses: list[int]) -> StatusServer:
        servers.append(StatusServer(statuses))
        return servers[-1]

    yield make
    for server in servers:
        server.http.shutdown()
        server.http.server_close()


def test_webhooks_retry_server_errors_but_not_client_errors(status_server: Any) -> None:
    no_sleep: Callable[[float], None] = lambda _: None  # noqa: E731
    flaky = status_server([500, 502, 200])
    assert notify.post_webhook(flaky.url, {"a": 1}, sleep=no_sleep) is True and flaky.count == 3
    refused = status_server([404])
    assert notify.post_webhook(refused.url, {"a": 1}, sleep=no_sleep) is False and refused.count == 1
    down = status_server([503])
    assert notify.post_webhook(down.url, {"a": 1}, sleep=no_sleep) is False and down.count == 3


def test_input_planning_lists_blobs_by_prefix_and_glob_up_to_the_limit(app_env: AppEnv) -> None:
    name = f"{app_env.table_prefix}plan"
    container = BlobServiceClient.from_connection_string(app_env.connection).get_container_client(name)
    container.create_container()
    for blob in ("in/a.csv", "in/b.csv", "in/c.txt", "in/sub/d.csv", "out/e.csv"):
        container.upload_blob(blob, b"x")

    def plan(fan_out: dict[str, Any]) -> list[str]:
        result = call(inputs.plan_inputs, {"attempt_id": "r:t:r0:a0", "fan_out": fan_out})
        items = factory.get_blob_refs().get_json(result["manifest"])
        assert result["count"] == len(items)
        return list(items)

    assert plan({"blob_prefix": f"{name}/in/", "glob": "*.csv"}) == [
        f"{name}/in/a.csv",
        f"{name}/in/b.csv",
        f"{name}/in/sub/d.csv",
    ]
    assert plan({"blob_prefix": f"/{name}/in/", "max_inputs": 2}) == [f"{name}/in/a.csv", f"{name}/in/b.csv"]
    url = factory.get_blob_refs().account_url
    assert plan({"blob_prefix": f"{url}/{name}/out/"}) == [f"{name}/out/e.csv"]
    assert plan({"items": ["x", "y"]}) == ["x", "y"]
    assert json.loads(json.dumps(plan({"trigger_files": True}))) == []


def test_relative_script_paths_resolve_against_the_job_folder_staged_as_resource_files(
    app_env: AppEnv, tmp_path: Path
) -> None:
    """Batch's own way: the job folder reaches the task's working directory; the command is not rewritten."""
    jobs = tmp_path / "job"
    (jobs / "scripts").mkdir(parents=True)
    (jobs / "scripts" / "run.py").write_text("print(1)")
    container = stage(str(jobs), factory.get_job_files_store())
    assert container is not None
    wd = tmp_path / "wd"
    fetch_resource_files([resource_file(container)], wd, BlobIO(app_env.connection))
    assert (wd / "scripts" / "run.py").read_text() == "print(1)"
    assert (wd / "scripts" / "run.py").stat().st_mode & 0o777 == 0o770
    assert stage(str(jobs), factory.get_job_files_store()) == container


def test_a_cancel_written_by_another_host_is_seen_fresh_at_once_and_by_pollers_within_the_ttl(
    app_env: AppEnv,
) -> None:
    from jobclusters.tracking import control_store

    now = [1000.0]
    table = f"{app_env.table_prefix}control"
    poller = control_store.TableControlStore(app_env.connection, table, clock=lambda: now[0])
    other_host = control_store.TableControlStore(app_env.connection, table)
    assert poller.cancel_requested("run-x") is None
    other_host.request_cancel("run-x", "from elsewhere")
    assert poller.cancel_requested("run-x", fresh=True) == "from elsewhere"
    late = control_store.TableControlStore(app_env.connection, table, clock=lambda: now[0])
    assert late.cancel_requested("run-y") is None
    other_host.request_cancel("run-y", "later")
    now[0] += control_store.NOT_CANCELED_TTL_SECONDS - 0.01
    assert late.cancel_requested("run-y") is None, "within the TTL the poller trusts its last answer"
    now[0] += 0.02
    assert late.cancel_requested("run-y") == "later"


def test_batch_activities_run_twice_create_each_pool_job_and_task_once(app_env: AppEnv) -> None:
    from activities import batch

    run = TaskRunInput(
        run_id="run-twice",
        control_id="run-twice",
        job_id="j",
        job_name="J",
        task=Task.model_validate(
            {"key": "t", "payload": {"kind": "command", "command_line": "echo {{input}}"}}
        ),
    )
    prepare = {"run": run.model_dump(mode="json"), "attempt_id": "run-twice:t:r0:a0"}
    first, second = call(batch.batch_prepare, prepare), call(batch.batch_prepare, prepare)
    assert first == second and first["pool_ref"]["created"] is True
    manifest = factory.get_blob_refs().put_json("manifests/run-twice.json", ["a", "b", "c"])
    chunk = {
        "run_id": "run-twice",
        "job_id": first["job_id"],
        "task_prefix": "t",
        "payload": run.task.payload.model_dump(mode="json"),  # type: ignore[union-attr]
        "manifest": manifest,
        "start": 0,
        "end": 3,
    }
    assert call(batch.batch_add_chunk, chunk)["added"] == 3
    assert call(batch.batch_add_chunk, chunk)["added"] == 3, "a retried chunk finds its tasks already there"
    counts = factory.get_batch_service().get_task_counts(first["job_id"])
    assert counts.total == 3
    # finishing earlier would end running tasks by the job terminate: they would count as failed
    eventually(
        lambda: factory.get_batch_service().get_task_counts(first["job_id"]).completed >= 3,
        timeout=30,
        what="the three tasks to complete",
    )
    poll = {"run_id": "run-twice", "job_id": first["job_id"], "pool_ref": first["pool_ref"]}
    once = call(batch.batch_poll, poll)
    twice = call(batch.batch_poll, {**poll, "node_time": once["node_time"]})
    nodes = factory.get_batch_service().get_pool_nodes(first["pool_ref"]["pool_id"])
    assert nodes is not None and nodes >= 1
    assert (twice["node_time"]["samples"], twice["node_time"]["last_nodes"]) == (2, nodes)
    assert twice["node_time"]["nodes_min"] == twice["node_time"]["nodes_max"] == nodes
    shared = {**poll, "pool_ref": {**first["pool_ref"], "created": False}}
    assert call(batch.batch_poll, shared)["node_time"] is None, "an existing pool's nodes run other work too"
    finish = {"job_id": first["job_id"], "pool_ref": first["pool_ref"]}
    assert call(batch.batch_finish, finish)["pool_deleted"] is True
    assert call(batch.batch_finish, finish)["failed_count"] == 0
