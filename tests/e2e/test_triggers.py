"""Blob, Service Bus and schedule triggers through a real devhost process and Azurite."""

from __future__ import annotations

import json
import sqlite3
import uuid

import pytest
from azure.storage.blob import BlobServiceClient

from jobclusters.run_request import derive_run_id
from jobclusters.tracking.table_store import TableRunStore
from localbus import LocalServiceBus
from tests.e2e.conftest import AppHost, batch_job, start_host
from tests.eventually import eventually

pytestmark = pytest.mark.integration


def upload(host: AppHost, name: str, data: bytes) -> tuple[str, str]:
    service = BlobServiceClient.from_connection_string(host.connection)
    container = service.get_container_client("incoming")
    if not container.exists():
        container.create_container()
    blob = container.get_blob_client(name)
    result = blob.upload_blob(data, overwrite=True)
    return blob.url, str(result["etag"]).strip('"')


def test_an_upload_to_incoming_starts_the_matching_job_which_succeeds_with_task_rows(
    app_host: AppHost,
) -> None:
    folder = f"orders-{uuid.uuid4().hex[:6]}"
    job = app_host.client.register_job(
        batch_job(
            "on-arrival",
            {"ingest": "python3 -c \"print('ingest')\"", "publish": "true"},
            triggers=[
                {"kind": "storage_event", "container": "incoming", "prefix": f"{folder}/", "suffix": ".csv"}
            ],
        ),
        job_id=f"on-arrival-{folder}",
    )
    upload(app_host, f"{folder}/ignored.txt", b"not a csv")
    url, etag = upload(app_host, f"{folder}/day-1.csv", b"a,b\n1,2\n")

    run_id = derive_run_id(job["job_id"], url, etag)
    view = app_host.wait_run_done(run_id)
    assert view["result"] == "SUCCESS"
    assert view["trigger"]["kind"] == "blob"
    assert view["parameters"]["blob_path"] == f"incoming/{folder}/day-1.csv"
    assert view["parameters"]["blob_name"] == "day-1.csv"

    store = TableRunStore(app_host.connection, table_prefix=app_host.table_prefix)
    record, tasks = store.get_run_with_tasks(run_id)
    assert record is not None and record.state.value == "SUCCESS"
    assert {t.task_key: t.state.value for t in tasks} == {"ingest": "SUCCESS", "publish": "SUCCESS"}
    runs = store.list_runs_for_job(job["job_id"]).items
    assert [r.run_id for r in runs] == [run_id]  # the .txt upload started nothing


def test_invalid_service_bus_requests_are_dead_lettered_with_the_reason(app_host: AppHost) -> None:
    bus = LocalServiceBus(app_host.devhost_state)
    tag = uuid.uuid4().hex[:6]
    bus.send("job-requests", b"{not json", message_id=f"bad-json-{tag}")
    bus.send(
        "job-requests",
        json.dumps({"job": "no-such-job", "parameters": {}}).encode(),
        message_id=f"unknown-{tag}",
    )
    bus.send("job-requests", json.dumps({"job": "x", "parameters": [1]}).encode(), message_id=f"shape-{tag}")

    def dead() -> dict[str, str] | None:
        found = {
            m.message_id: m.dead_letter_error_description or ""
            for m in bus.dead_letters("job-requests")
            if m.message_id and m.message_id.endswith(tag)
        }
        return found if len(found) == 3 else None

    found = eventually(dead, timeout=30, interval=0.25, what="three dead letters")
    assert "not valid JSON" in found[f"bad-json-{tag}"]
    assert "$.job: no registered job 'no-such-job'" in found[f"unknown-{tag}"]
    assert "$.parameters" in found[f"shape-{tag}"]
    assert all(m.delivery_count == 1 for m in bus.dead_letters("job-requests") if m.message_id.endswith(tag))


def test_a_valid_service_bus_request_starts_one_run_per_idempotency_key(app_host: AppHost) -> None:
    job = app_host.client.register_job(
        batch_job("from-queue", {"only": "true"}, parameters=[{"name": "order"}])
    )
    bus = LocalServiceBus(app_host.devhost_state)
    key = f"order-{uuid.uuid4().hex[:6]}"
    body = json.dumps({"job": job["job_id"], "parameters": {"order": "42"}, "idempotency_key": key}).encode()
    bus.send("job-requests", body)
    bus.send("job-requests", body)  # sent twice: one run
    run_id = derive_run_id(job["job_id"], "servicebus", key)
    view = app_host.wait_run_done(run_id)
    assert view["result"] == "SUCCESS" and view["parameters"] == {"order": "42"}
    assert view["trigger"]["kind"] == "servicebus"
    store = TableRunStore(app_host.connection, table_prefix=app_host.table_prefix)
    eventually(lambda: not bus.peek("job-requests"), timeout=20, interval=0.25, what="the queue to drain")
    assert [r.run_id for r in store.list_runs_for_job(job["job_id"]).items] == [run_id]


def test_a_quartz_schedule_fires_runs_and_a_paused_one_does_not(app_host: AppHost) -> None:
    client = app_host.client
    definition = batch_job(
        "every-two-seconds",
        {"tick": "true"},
        schedule={"quartz_cron_expression": "0/2 * * * * ?", "timezone_id": "Europe/Paris"},
    )
    job = client.register_job(definition)
    store = TableRunStore(app_host.connection, table_prefix=app_host.table_prefix)
    runs = eventually(
        lambda: store.list_runs_for_job(job["job_id"]).items,
        timeout=30,
        interval=0.25,
        what="a scheduled run",
    )
    view = client.get_run(runs[0].run_id)
    assert view["trigger"]["kind"] == "schedule"
    fire = view["trigger"]["detail"]["scheduled_time"]
    assert runs[0].run_id == derive_run_id(job["job_id"], "schedule", fire)

    definition["schedule"]["pause_status"] = "PAUSED"
    client.register_job(definition)
    paused = client.register_job(
        batch_job(
            "paused-schedule",
            {"tick": "true"},
            schedule={"quartz_cron_expression": "* * * * * ?", "pause_status": "PAUSED"},
        )
    )
    import time

    time.sleep(3)
    assert store.list_runs_for_job(paused["job_id"]).items == []


def test_a_blob_event_seen_again_after_a_host_restart_starts_no_second_run(app_host: AppHost) -> None:
    folder = f"dup-{uuid.uuid4().hex[:6]}"
    job = app_host.client.register_job(
        batch_job(
            "dedup",
            {"only": "true"},
            triggers=[{"kind": "file_arrival", "url": f"incoming/{folder}/"}],
        ),
        job_id=f"dedup-{folder}",
    )
    url, etag = upload(app_host, f"{folder}/file.csv", b"x\n1\n")
    run_id = derive_run_id(job["job_id"], url, etag)
    assert app_host.wait_run_done(run_id)["result"] == "SUCCESS"

    # The host forgets that it handled the blob (as after losing its receipts): the event comes again.
    app_host.launcher.stop()
    with sqlite3.connect(app_host.devhost_state / "triggers.sqlite3") as db:
        deleted = db.execute("DELETE FROM blob_receipts WHERE blob = ?", (f"{folder}/file.csv",)).rowcount
    assert deleted == 1
    restarted = start_host(app_host.connection, app_host.state_dir, app_host.table_prefix, app_host.port)
    app_host.launcher = restarted.launcher

    def seen_again() -> bool:
        with sqlite3.connect(app_host.devhost_state / "triggers.sqlite3") as db:
            row = db.execute(
                "SELECT status FROM blob_receipts WHERE blob = ?", (f"{folder}/file.csv",)
            ).fetchone()
        return row is not None and row[0] == "done"

    eventually(seen_again, timeout=30, interval=0.25, what="the blob trigger to handle the blob again")
    store = TableRunStore(app_host.connection, table_prefix=app_host.table_prefix)
    assert [r.run_id for r in store.list_runs_for_job(job["job_id"]).items] == [run_id]
    assert "exists already" in app_host.launcher.log_path.read_text()
