"""Bursts of uploads through a real devhost and Azurite, counted against what the tasks did: every file is
processed exactly once, none by a SKIPPED run, whether a Databricks file-arrival rule batches them (as many
runs as its waits make) or an ADF storage-event rule gives each its own run (queued at concurrency 1)."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from azure.storage.blob import BlobServiceClient

from jobclusters.tracking.models import RunSummary
from jobclusters.tracking.table_store import TableRunStore
from tests.e2e.conftest import AppHost, batch_job
from tests.eventually import eventually

pytestmark = pytest.mark.integration

BURST = 50
TERMINAL = {"SUCCESS", "FAILED", "TIMEDOUT", "CANCELED", "SKIPPED", "INTERNAL_ERROR", "SUCCESS_WITH_FAILURES"}
# One empty file per (input, run) the task got: the ground truth of what was processed, and by which run.
MARKER = (
    "import os,sys,uuid; d=sys.argv[1]; n=os.environ['JOBCLUSTERS_INPUT'].replace('/','~'); "
    "open(os.path.join(d, n+' '+sys.argv[2]+' '+uuid.uuid4().hex[:6]),'w').close()"
)


def marker_job(name: str, marks: Path, trigger: dict[str, Any]) -> dict[str, Any]:
    job = batch_job(
        name,
        {"mark": f'python3 -c "{MARKER}" {marks} {{{{job.run_id}}}}'},
        max_concurrent_runs=1,
        triggers=[trigger],
    )
    job["tasks"][0]["payload"]["fan_out"] = {"trigger_files": True}
    return job


def processed(marks: Path) -> list[tuple[str, str]]:
    """(file path, run id) per marker."""
    found = []
    for marker in marks.iterdir():
        name, run_id, _ = marker.name.split(" ")
        found.append((name.replace("~", "/"), run_id))
    return found


def all_runs(store: TableRunStore, job_id: str) -> list[RunSummary]:
    runs: list[RunSummary] = []
    token = None
    while True:
        page = store.list_runs_for_job(job_id, page_size=200, token=token)
        runs.extend(page.items)
        token = page.continuation_token
        if not token:
            return runs


def burst(
    host: AppHost, trigger_for: Any, tmp_path: Path, tag: str, *, split: bool = False
) -> tuple[list[RunSummary], Path, float]:
    """Upload BURST files (with `split`, the second half once the first run started) and wait until every
    file has a marker and every run ended."""
    container = f"burst{tag}"
    BlobServiceClient.from_connection_string(host.connection).create_container(container)
    marks = tmp_path / "marks"
    marks.mkdir()
    job = host.client.register_job(marker_job("burst", marks, trigger_for(container)), job_id=f"burst-{tag}")
    blobs = BlobServiceClient.from_connection_string(host.connection).get_container_client(container)
    store = TableRunStore(host.connection, table_prefix=host.table_prefix)
    began = time.monotonic()
    for i in range(BURST):
        if split and i == BURST // 2:
            eventually(lambda: all_runs(store, job["job_id"]), timeout=120, what="the first run to start")
        blobs.upload_blob(f"in/file-{i:02d}.csv", b"x\n")

    def settled() -> list[RunSummary] | None:
        if len(list(marks.iterdir())) < BURST:
            return None
        runs = all_runs(store, job["job_id"])
        return runs if runs and all(r.state.value in TERMINAL for r in runs) else None

    runs: list[RunSummary] = eventually(
        settled, timeout=840, what=f"{BURST} files to be processed", interval=1.0
    )
    elapsed = time.monotonic() - began
    return runs, marks, elapsed


def expected_files(tag: str) -> list[str]:
    return [f"burst{tag}/in/file-{i:02d}.csv" for i in range(BURST)]


def test_a_burst_under_a_file_arrival_path_is_processed_once_over_batched_runs_none_skipped(
    app_host: AppHost, tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex[:6]

    def trigger(container: str) -> dict[str, Any]:
        return {
            "kind": "file_arrival",
            "url": f"abfss://{container}@devstoreaccount1.dfs.core.windows.net/in/",
            "wait_after_last_change_seconds": 1,
        }

    runs, marks, elapsed = burst(app_host, trigger, tmp_path, tag, split=True)
    done = processed(marks)
    assert sorted(Counter(name for name, _ in done).items()) == [(f, 1) for f in expected_files(tag)]
    assert Counter(r.state.value for r in runs) == Counter({"SUCCESS": len(runs)})
    assert {run_id for _, run_id in done} == {r.run_id for r in runs}
    assert 2 <= len(runs) < BURST  # batched, and the files of the second half went to a later run

    # A metadata-only change is no arrival: the upload after it is processed, the changed file not again.
    blobs = BlobServiceClient.from_connection_string(app_host.connection).get_container_client(f"burst{tag}")
    blobs.get_blob_client("in/file-00.csv").set_blob_metadata({"checked": "yes"})
    blobs.upload_blob("in/after.csv", b"y\n")
    eventually(
        lambda: len(list(marks.iterdir())) > BURST, timeout=120, what="the upload after the metadata change"
    )
    store = TableRunStore(app_host.connection, table_prefix=app_host.table_prefix)
    eventually(
        lambda: all(r.state.value in TERMINAL for r in all_runs(store, f"burst-{tag}")),
        timeout=120,
        what="the last run",
    )
    again = Counter(name for name, _ in processed(marks))
    assert again[f"burst{tag}/in/file-00.csv"] == 1 and again[f"burst{tag}/in/after.csv"] == 1
    assert sum(again.values()) == BURST + 1
    print(f"\nfile_arrival burst: {BURST} files, {len(runs)} runs, none skipped, {elapsed:.1f} s")


@pytest.mark.timeout(900)  # 50 runs one after another, each a few seconds of local Batch polling
def test_a_burst_under_an_adf_storage_event_at_concurrency_one_queues_one_run_per_blob(
    app_host: AppHost, tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex[:6]
    runs, marks, elapsed = burst(
        app_host, lambda container: {"kind": "storage_event", "container": container}, tmp_path, tag
    )
    done = processed(marks)
    assert sorted(Counter(name for name, _ in done).items()) == [(f, 1) for f in expected_files(tag)]
    assert len(runs) == BURST
    assert Counter(r.state.value for r in runs) == Counter({"SUCCESS": BURST})
    assert len({run_id for _, run_id in done}) == BURST  # one run per blob
    print(f"\nstorage_event burst: {BURST} files, {len(runs)} runs at concurrency 1, {elapsed:.1f} s")
