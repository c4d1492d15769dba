"""A local Batch task's stdout/stderr reach the logs container whatever else fails (issue 11 defect 4).

Each failure path a run can take: an output file whose upload fails (a container name Azure rejects), a
wall-clock timeout, a cancel (job terminated, then the on-demand pool deleted at once, as `batch_finish`
does) and a pool deleted under a running task. The logs are read back from Azurite, never from the node.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob import BlobServiceClient, ContainerClient

from jobclusters.execution.batch_logs import log_output_file
from jobclusters.services.batch import JobSpec, PoolPlacement, PoolRef, PoolSpec, TaskCounts, TaskSpec
from jobclusters.services.local_batch import LocalBatchService

pytestmark = pytest.mark.integration


class ManualClock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def logs(storage_connection: str) -> ContainerClient:
    container = BlobServiceClient.from_connection_string(storage_connection).get_container_client(
        f"logs-{uuid.uuid4().hex[:10]}"
    )
    container.create_container()
    return container


@pytest.fixture
def svc(tmp_path: Path, storage_connection: str, clock: ManualClock) -> Iterator[LocalBatchService]:
    with LocalBatchService(
        tmp_path / "state", storage_connection=storage_connection, max_slots=2, clock=clock
    ) as service:
        yield service


def _pool(svc: LocalBatchService) -> PoolRef:
    spec = PoolSpec(id=f"pool-{uuid.uuid4().hex[:8]}", vm_size="local", target_dedicated_nodes=1)
    ref = svc.ensure_pool(PoolPlacement(mode="onDemand", pool=spec), owner="attempt-1")
    svc.create_job(JobSpec(id="job", pool_info=ref.pool_info()))
    return ref


def _task(logs: ContainerClient, command: str, **fields: object) -> TaskSpec:
    spec = TaskSpec.model_validate({"id": "t", "commandLine": command, **fields})
    spec.output_files.insert(0, log_output_file(logs.url, "run-1/t/attempt-1", "t"))
    return spec


def _log(logs: ContainerClient, name: str) -> str | None:
    try:
        return logs.download_blob(f"run-1/t/attempt-1/t/{name}").readall().decode()
    except ResourceNotFoundError:
        return None


def _wait(probe: object, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if probe():  # type: ignore[operator]
            return
        time.sleep(0.02)
    raise AssertionError("condition not reached")


def _done(svc: LocalBatchService) -> TaskCounts:
    _wait(lambda: svc.get_task_counts("job").done and svc.get_task_counts("job").total)
    return svc.get_task_counts("job")


def _started(svc: LocalBatchService) -> None:
    _wait(lambda: (d := svc.task_dir("job", "t")) is not None and "started" in _read(d / "stdout.txt"))


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _no_pool_folder(svc: LocalBatchService, tmp_path: Path, ref: PoolRef) -> bool:
    return not (tmp_path / "state" / "batch" / "pools" / str(ref.pool_id)).exists()


@pytest.mark.parametrize("exit_code", [0, 4])
def test_a_failed_output_upload_keeps_the_logs_and_names_the_failed_upload(
    svc: LocalBatchService, logs: ContainerClient, storage_connection: str, exit_code: int
) -> None:
    account = BlobServiceClient.from_connection_string(storage_connection).url.rstrip("/")
    _pool(svc)
    svc.add_tasks(
        "job",
        [
            _task(
                logs,
                f"echo out-line; echo err-line >&2; echo r > result.txt; exit {exit_code}",
                outputFiles=[
                    {
                        "filePattern": "result.txt",
                        "destination": {"container": {"containerUrl": f"{account}/Bad_Container"}},
                        "uploadOptions": {"uploadCondition": "taskCompletion"},
                    }
                ],
            )
        ],
    )
    assert _done(svc).failed == 1
    assert _log(logs, "stdout.txt") == "out-line\n"
    assert _log(logs, "stderr.txt") == "err-line\n"
    [failed] = svc.list_failed_tasks("job")
    assert failed.exit_code == exit_code
    assert failed.code == ("FileUploadError" if exit_code == 0 else "FailureExitCode")
    assert "outputFiles[1] (result.txt) upload failed" in (failed.message or "")


def test_a_timed_out_task_keeps_its_logs(
    svc: LocalBatchService, logs: ContainerClient, clock: ManualClock
) -> None:
    _pool(svc)
    svc.add_tasks("job", [_task(logs, "echo started; sleep 30", constraints={"maxWallClockTime": "PT5S"})])
    _started(svc)
    clock.now += 6
    svc.sync()
    _done(svc)
    assert svc.list_failed_tasks("job")[0].code == "TaskEnded"
    assert _log(logs, "stdout.txt") == "started\n"


def test_a_canceled_task_keeps_its_logs_when_its_pool_is_deleted_at_once(
    svc: LocalBatchService, logs: ContainerClient, tmp_path: Path
) -> None:
    ref = _pool(svc)
    svc.add_tasks("job", [_task(logs, "echo started; echo oops >&2; sleep 30")])
    _started(svc)
    svc.terminate_job("job")
    assert svc.delete_pool(ref)
    _wait(lambda: _no_pool_folder(svc, tmp_path, ref))
    assert _log(logs, "stdout.txt") == "started\n"
    assert _log(logs, "stderr.txt") == "oops\n"
    [failed] = svc.list_failed_tasks("job")
    assert failed.code == "TaskEnded", "the terminate stays the reason; deleting the pool does not requeue"


def test_a_task_running_when_its_pool_is_deleted_keeps_its_logs(
    svc: LocalBatchService, logs: ContainerClient, tmp_path: Path
) -> None:
    ref = _pool(svc)
    svc.add_tasks("job", [_task(logs, "echo started; sleep 30")])
    _started(svc)
    assert svc.delete_pool(ref)
    _wait(lambda: _no_pool_folder(svc, tmp_path, ref))
    assert _log(logs, "stdout.txt") == "started\n"
