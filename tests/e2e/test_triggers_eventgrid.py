"""Event Grid intake through real devhost processes and Azurite: rules on any container fire, a rule on a
missing container is a registration warning, and an upload starts its work once however many hosts (or
fresh state folders) see it. Runs are counted from tracking and from what the tasks actually did."""

from __future__ import annotations

import sqlite3
import uuid
from collections import Counter
from pathlib import Path

import pytest
from azure.storage.blob import BlobServiceClient

from devhost.ports import free_port
from jobclusters.run_request import derive_run_id
from jobclusters.tracking.table_store import TableRunStore
from tests.e2e.conftest import AppHost, batch_job, start_host
from tests.eventually import eventually

pytestmark = pytest.mark.integration
RECEIPT_KEY = "start_runs_for_blob_event/blob-created"


def upload(host: AppHost, container: str, name: str, data: bytes) -> tuple[str, str]:
    blob = BlobServiceClient.from_connection_string(host.connection).get_blob_client(container, name)
    result = blob.upload_blob(data, overwrite=True)
    return blob.url, str(result["etag"]).strip('"')


def marking_job(name: str, marks: Path, **extra: object) -> dict[str, object]:
    """A job whose one task appends its run id to `marks`: one line per execution of the work."""
    script = "import sys; open(sys.argv[1], 'a').write(sys.argv[2] + chr(10))"
    return batch_job(name, {"mark": f'python3 -c "{script}" {marks} {{{{job.run_id}}}}'}, **extra)


def blob_path(store: TableRunStore, run_id: str) -> str:
    record = store.get_run(run_id)
    assert record is not None
    return str(record.parameters["blob_path"])


def delivered(host: AppHost, container: str, names: list[str]) -> bool:
    """Ground truth that a host's Event Grid listener handed every one of these blobs to the function."""
    with sqlite3.connect(host.devhost_state / "triggers.sqlite3") as db:
        rows = db.execute(
            "SELECT blob FROM blob_receipts WHERE function = ? AND container = ? AND status = 'done'",
            (RECEIPT_KEY, container),
        ).fetchall()
    return set(names) <= {row[0] for row in rows}


def test_rules_on_three_other_containers_fire_and_a_missing_container_is_a_warning(app_host: AppHost) -> None:
    tag = uuid.uuid4().hex[:6]
    service = BlobServiceClient.from_connection_string(app_host.connection)
    landing, raw, drops = (f"landing{tag}", f"raw{tag}", f"drops{tag}")
    for container in (landing, raw, drops):
        service.create_container(container)
    job = app_host.client.register_job(
        batch_job(
            "any-container",
            {"only": "true"},
            max_concurrent_runs=10,  # several uploads at once; queueing instead of skipping is another change
            triggers=[
                {"kind": "storage_event", "container": landing, "suffix": ".csv"},
                {"kind": "file_arrival", "url": f"abfss://{raw}@devstoreaccount1.dfs.core.windows.net/in/"},
                {"kind": "storage_event", "prefix": f"/{drops}/blobs/today/"},
            ],
        ),
        job_id=f"any-container-{tag}",
    )
    assert [w for w in job["warnings"] if w["code"] == "unknown-container"] == []
    uploads = [
        upload(app_host, landing, "a.csv", b"1"),
        upload(app_host, raw, "in/b.json", b"2"),
        upload(app_host, drops, "today/c.bin", b"3"),
    ]
    upload(app_host, landing, "ignored.txt", b"no rule matches")
    run_ids = [derive_run_id(job["job_id"], url, etag) for url, etag in uploads]
    for run_id in run_ids:
        assert app_host.wait_run_done(run_id)["result"] == "SUCCESS"
    store = TableRunStore(app_host.connection, table_prefix=app_host.table_prefix)
    runs = store.list_runs_for_job(job["job_id"]).items
    assert sorted(r.run_id for r in runs) == sorted(run_ids)
    assert sorted(blob_path(store, r.run_id) for r in runs) == [
        f"{drops}/today/c.bin",
        f"{landing}/a.csv",
        f"{raw}/in/b.json",
    ]

    missing = app_host.client.register_job(
        batch_job(
            "nowhere", {"only": "true"}, triggers=[{"kind": "storage_event", "container": f"nosuch{tag}"}]
        ),
        job_id=f"nowhere-{tag}",
    )
    [warning] = [w for w in missing["warnings"] if w["code"] == "unknown-container"]
    assert warning["path"] == "$.triggers[0]" and f"nosuch{tag}" in warning["message"]


def test_two_hosts_and_a_host_with_an_empty_state_folder_start_each_upload_once(
    app_host: AppHost, tmp_path_factory: pytest.TempPathFactory
) -> None:
    tag = uuid.uuid4().hex[:6]
    container = f"shared{tag}"
    BlobServiceClient.from_connection_string(app_host.connection).create_container(container)
    marks = tmp_path_factory.mktemp("marks") / "marks.txt"
    job = app_host.client.register_job(
        marking_job(
            "once-per-upload",
            marks,
            max_concurrent_runs=10,
            triggers=[{"kind": "storage_event", "container": container}],
        ),
        job_id=f"once-{tag}",
    )
    other = start_host(
        app_host.connection, tmp_path_factory.mktemp("second"), app_host.table_prefix, free_port()
    )
    names = [f"file-{i}.csv" for i in range(6)]
    store = TableRunStore(app_host.connection, table_prefix=app_host.table_prefix)

    def runs_per_blob() -> Counter[str]:
        return Counter(blob_path(store, r.run_id) for r in store.list_runs_for_job(job["job_id"]).items)

    def all_succeeded() -> bool:
        runs = store.list_runs_for_job(job["job_id"]).items
        return len(runs) == len(names) and all(r.state.value == "SUCCESS" for r in runs)

    try:
        for name in names:
            upload(app_host, container, name, b"x\n")
        eventually(
            lambda: delivered(app_host, container, names) and delivered(other, container, names),
            timeout=90,
            what="both hosts to deliver every upload",
        )
        eventually(all_succeeded, timeout=90, what="every run to succeed")
    finally:
        other.launcher.stop()
    assert runs_per_blob() == Counter({f"{container}/{name}": 1 for name in names})
    assert sorted(Counter(marks.read_text().split()).values()) == [1] * len(names)

    fresh = start_host(
        app_host.connection, tmp_path_factory.mktemp("fresh"), app_host.table_prefix, free_port()
    )
    try:
        eventually(
            lambda: delivered(fresh, container, names),
            timeout=90,
            what="the fresh host to deliver the old uploads",
        )
        upload(app_host, container, "late.csv", b"y\n")
        eventually(
            lambda: (
                delivered(fresh, container, ["late.csv"]) and delivered(app_host, container, ["late.csv"])
            ),
            timeout=90,
            what="both hosts to deliver the late upload",
        )
        names.append("late.csv")
        eventually(all_succeeded, timeout=90, what="the late run to succeed")
    finally:
        fresh.launcher.stop()
    assert runs_per_blob() == Counter({f"{container}/{name}": 1 for name in names})
    work = Counter(marks.read_text().split())
    assert len(work) == len(names) and set(work.values()) == {1}
