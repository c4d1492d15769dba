"""The run requests the dispatcher starts for claimed arrivals.

A storage-event run is one blob's, with the run id its upload always had (job, URL, ETag). A file-arrival
run takes every file claimed for it, in arrival order, as `files` (the run's `trigger_files`) and is named
after the first, so its id is as stable as the claim. Either run waits for a slot instead of being
skipped (`queue`): the file is handed to exactly this run, so skipping it would lose the file.
"""

from __future__ import annotations

import posixpath
from typing import Any

from jobclusters.arrivals.store import Arrival
from jobclusters.run_request import RunRequest, TriggerInfo
from jobclusters.spec import Job


def blob_run_parameters(container: str, name: str, url: str) -> dict[str, Any]:
    """What a run started by a blob is told: where the file is (ADF calls these folderPath and fileName;
    Databricks passes the location). `blob_dir` is the folder inside the container."""
    folder = posixpath.dirname(name)
    return {
        "blob_path": f"{container}/{name}",
        "blob_name": posixpath.basename(name),
        "blob_folder": f"{container}/{folder}" if folder else container,
        "blob_dir": folder,
        "blob_url": url,
    }


def arrival_run_request(
    job_id: str, job: Job, arrivals: list[Arrival], *, base_dir: str | None
) -> RunRequest:
    first = arrivals[0]
    files = [a.path for a in arrivals]
    detail: dict[str, Any] = {
        "url": first.url,
        "etag": first.etag,
        "container": first.container,
        "name": first.name,
        "size": first.size,
        "rule": first.rule,
        "rule_kind": first.kind,
        "files": files,
    }
    parameters = blob_run_parameters(first.container, first.name, first.url)
    if first.kind == "file_arrival":
        parameters["files"] = files
    return RunRequest(
        run_id=first.key,
        job_id=job_id,
        job=job.model_copy(update={"queue": True}),
        parameters=parameters,
        trigger=TriggerInfo(kind="blob", detail=detail),
        base_dir=base_dir,
    )


def run_requests(job_id: str, job: Job, arrivals: list[Arrival], *, base_dir: str | None) -> list[RunRequest]:
    """One request per blob for a storage-event rule, one for all of a file-arrival rule's files."""
    if not arrivals:
        return []
    if arrivals[0].kind == "file_arrival":
        return [arrival_run_request(job_id, job, arrivals, base_dir=base_dir)]
    return [arrival_run_request(job_id, job, [a], base_dir=base_dir) for a in arrivals]
