"""The local Batch executor really runs tasks: exit codes, limits, retries, dependencies, files, restarts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from azure.storage.blob import BlobServiceClient

from jobclusters.services.batch import (
    BatchServiceError,
    JobConstraints,
    JobSpec,
    PoolInformation,
    PoolPlacement,
    PoolSpec,
    TaskCounts,
    TaskSpec,
)
from jobclusters.services.local_batch import (
    PREEMPT_METADATA_KEY,
    LocalBatchService,
    close_shared_local_batch,
    shared_local_batch,
)
from tests.eventually import eventually

pytestmark = pytest.mark.integration
PROJECT = Path(__file__).resolve().parents[3]


def wait_done(svc: LocalBatchService, job_id: str, timeout: float = 15.0) -> TaskCounts:
    def done() -> TaskCounts | None:
        counts = svc.get_task_counts(job_id)
        return counts if counts.done and counts.total else None

    return eventually(done, timeout=timeout, what=f"job {job_id} to finish")


class ManualClock:
    """The executor's clock in tests: time moves only when the test says so."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def svc(tmp_path: Path, clock: ManualClock) -> Iterator[LocalBatchService]:
    with LocalBatchService(tmp_path / "state", max_slots=4, preempt_seed=7, clock=clock) as service:
        yield service


def make_job(
    svc: LocalBatchService, job_id: str = "job", *, pool: PoolSpec | None = None, **job_fields
) -> str:
    spec = pool or PoolSpec(
        id=f"pool-{job_id}", vm_size="local", target_dedicated_nodes=2, task_slots_per_node=2
    )
    ref = svc.ensure_pool(PoolPlacement(mode="onDemand", pool=spec), owner="run-1")
    svc.create_job(JobSpec(id=job_id, pool_info=ref.pool_info(), **job_fields))
    return spec.id


def task(task_id: str, command: str, **fields) -> TaskSpec:
    return TaskSpec.model_validate({"id": task_id, "commandLine": command, **fields})


def test_exit_codes_become_success_or_failure_with_failure_info(svc):
    make_job(svc)
    svc.add_tasks("job", [task("ok", "exit 0"), task("bad", "echo oops >&2; exit 3")])
    counts = wait_done(svc, "job")
    assert (counts.succeeded, counts.failed) == (1, 1)
    [failed] = svc.list_failed_tasks("job")
    assert (failed.task_id, failed.exit_code, failed.code, failed.category) == (
        "bad",
        3,
        "FailureExitCode",
        "UserError",
    )
    assert Path(failed.log_urls["stderr.txt"].removeprefix("file://")).read_text() == "oops\n"


def test_tasks_run_in_their_own_working_dir_with_batch_environment(svc):
    pool_id = make_job(svc, common_environment_settings=[{"name": "COMMON", "value": "c"}])
    svc.add_tasks(
        "job",
        [
            task(
                "env",
                "pwd; env | grep -E '^(AZ_BATCH_|COMMON|OWN)' | sort",
                environmentSettings=[{"name": "OWN", "value": "o"}],
            )
        ],
    )
    wait_done(svc, "job")
    task_dir = svc.task_dir("job", "env")
    assert task_dir is not None
    lines = (task_dir / "stdout.txt").read_text().splitlines()
    env = dict(line.split("=", 1) for line in lines[1:])
    assert lines[0] == str(task_dir / "wd") == env["AZ_BATCH_TASK_WORKING_DIR"]
    assert env["AZ_BATCH_TASK_DIR"] == str(task_dir)
    assert (env["AZ_BATCH_JOB_ID"], env["AZ_BATCH_TASK_ID"], env["AZ_BATCH_POOL_ID"]) == (
        "job",
        "env",
        pool_id,
    )
    assert Path(env["AZ_BATCH_NODE_SHARED_DIR"]).is_dir()
    assert env["AZ_BATCH_NODE_ID"].startswith("tvm-")
    assert Path(env["AZ_BATCH_NODE_ROOT_DIR"]) in task_dir.parents
    assert (env["COMMON"], env["OWN"]) == ("c", "o")


def test_host_secrets_are_not_passed_to_tasks(svc, monkeypatch):
    monkeypatch.setenv("AzureWebJobsStorage", "AccountKey=host-secret")
    make_job(svc)
    svc.add_tasks("job", [task("t", "env")])
    wait_done(svc, "job")
    out = (svc.task_dir("job", "t") / "stdout.txt").read_text()
    assert "host-secret" not in out and "AZ_BATCH_TASK_ID=t" in out


def test_add_tasks_returns_at_once_and_counts_show_progress(svc):
    make_job(svc)
    started = time.monotonic()
    svc.add_tasks("job", [task(f"t{i}", "sleep 0.3") for i in range(6)])
    assert time.monotonic() - started < 0.25
    eventually(lambda: svc.get_task_counts("job").running > 0)
    assert svc.get_task_counts("job").active + svc.get_task_counts("job").running == 6
    assert wait_done(svc, "job").succeeded == 6


def test_concurrency_never_exceeds_the_pool_slots(svc, tmp_path):
    log = tmp_path / "spans"
    log.mkdir()
    make_job(svc, pool=PoolSpec(id="small", vm_size="local", target_dedicated_nodes=1, task_slots_per_node=3))
    stamp = "echo $(date +%s.%N) > " + str(log) + "/$AZ_BATCH_TASK_ID"
    cmd = f"{stamp}.start; sleep 0.15; {stamp}.end"
    svc.add_tasks("job", [task(f"t{i}", cmd) for i in range(9)])
    wait_done(svc, "job")
    spans = [
        (float((log / f"t{i}.start").read_text()), float((log / f"t{i}.end").read_text())) for i in range(9)
    ]
    peak = max(sum(1 for s, e in spans if s <= moment < e) for moment, _ in spans)
    assert peak == 3


def test_max_wall_clock_time_kills_the_whole_process_tree(svc, clock, tmp_path):
    pids = tmp_path / "child.pid"
    make_job(svc)
    svc.add_tasks(
        "job",
        [
            task(
                "slow",
                f"sleep 30 & echo $! > {pids}; wait",
                constraints={"maxWallClockTime": "PT10S", "maxTaskRetryCount": 3},
            )
        ],
    )
    eventually(lambda: pids.exists() and pids.read_text().strip() != "")
    clock.advance(9.9)
    svc.sync()
    assert svc.get_task_counts("job").running == 1, "the limit has not passed yet"
    clock.advance(0.2)
    started = time.monotonic()
    wait_done(svc, "job")
    assert time.monotonic() - started < 5
    [failed] = svc.list_failed_tasks("job")
    assert failed.code == "TaskEnded" and failed.retry_count == 0, "a wall-clock timeout is not retried"
    child = int(pids.read_text())
    eventually(
        lambda: (
            not Path(f"/proc/{child}").exists() or "Z" in Path(f"/proc/{child}/stat").read_text().split()[2]
        )
    )


def test_failed_tasks_are_retried_up_to_max_task_retry_count(svc):
    counter = (
        "n=$(cat $AZ_BATCH_NODE_SHARED_DIR/$AZ_BATCH_TASK_ID 2>/dev/null || echo 0); "
        "echo $((n+1)) > $AZ_BATCH_NODE_SHARED_DIR/$AZ_BATCH_TASK_ID; "
    )
    pool = PoolSpec(id="one", vm_size="local", target_dedicated_nodes=1, task_slots_per_node=2)
    svc.ensure_pool(PoolPlacement(mode="onDemand", pool=pool), owner="r")
    svc.create_job(
        JobSpec(
            id="retry",
            pool_info=PoolInformation(pool_id="one"),
            constraints=JobConstraints(max_task_retry_count=1),
        )
    )
    svc.add_tasks(
        "retry",
        [
            task("flaky", counter + '[ "$n" -ge 2 ]', constraints={"maxTaskRetryCount": 2}),
            task("hopeless", counter + "exit 9"),
        ],
    )
    counts = wait_done(svc, "retry")
    assert (counts.succeeded, counts.failed) == (1, 1)
    assert svc.task_state("retry", "flaky")["retry_count"] == 2
    [failed] = svc.list_failed_tasks("retry")
    assert (failed.task_id, failed.retry_count, failed.exit_code) == ("hopeless", 1, 9), (
        "job-level retry default"
    )


def test_dependencies_run_in_order_and_failed_dependencies_block(svc, tmp_path):
    make_job(svc, uses_task_dependencies=True)
    shared = tmp_path
    svc.add_tasks(
        "job",
        [
            task("3", f"sleep 0.2; echo a > {shared}/a"),
            task("4", f"echo b > {shared}/b"),
            task("after", f"cat {shared}/a {shared}/b", dependsOn={"taskIdRanges": [{"start": 3, "end": 4}]}),
            task("broken", "exit 1"),
            task("blocked", "echo never", dependsOn={"taskIds": ["broken"]}),
            task("tolerant", "echo ran", dependsOn={"taskIds": ["lenient"]}),
            task(
                "lenient",
                "exit 5",
                exitConditions={"exitCodes": [{"code": 5, "exitOptions": {"dependencyAction": "satisfy"}}]},
            ),
        ],
    )
    eventually(lambda: svc.get_task_counts("job").completed == 6)
    svc.sync()
    counts = svc.get_task_counts("job")
    assert (counts.completed, counts.active) == (6, 1), "a task behind a failed dependency stays blocked"
    assert (svc.task_dir("job", "after") / "stdout.txt").read_text() == "a\nb\n"
    assert svc.task_state("job", "blocked")["state"] == "active"
    assert svc.task_state("job", "tolerant")["result"] == "success"


def test_dependencies_need_uses_task_dependencies_on_the_job(svc):
    make_job(svc)
    result = svc.add_tasks("job", [task("a", "true"), task("b", "true", dependsOn={"taskIds": ["a"]})])
    assert result.added == ["a"]
    assert [f.code for f in result.failed] == ["TaskDependenciesNotSpecifiedOnJob"]


def test_creates_are_idempotent_and_only_own_pools_are_deleted(svc):
    pool = PoolSpec(id="shared", vm_size="local", target_dedicated_nodes=1)
    mine = svc.ensure_pool(PoolPlacement(mode="onDemand", pool=pool), owner="run-1")
    again = svc.ensure_pool(PoolPlacement(mode="onDemand", pool=pool), owner="run-1")
    other = svc.ensure_pool(PoolPlacement(mode="onDemand", pool=pool), owner="run-2")
    existing = svc.ensure_pool(PoolPlacement(mode="existing", pool_id="shared"), owner="run-3")
    assert (mine.created, again.created, other.created, existing.created) == (True, True, False, False)
    svc.create_job(JobSpec(id="j", pool_info=mine.pool_info()))
    svc.create_job(JobSpec(id="j", pool_info=mine.pool_info()))
    assert svc.add_tasks("j", [task("t", "true")]).added == ["t"]
    assert svc.add_tasks("j", [task("t", "true")]).added == ["t"]
    assert wait_done(svc, "j").completed == 1
    assert svc.delete_pool(other) is False and svc.delete_pool(existing) is False
    assert svc.delete_pool(mine) is True
    with pytest.raises(BatchServiceError) as err:
        svc.ensure_pool(PoolPlacement(mode="existing", pool_id="shared"), owner="x")
    assert err.value.code == "PoolNotFound"


def test_start_task_runs_once_per_pool_before_any_task(svc, tmp_path):
    pool = PoolSpec.model_validate(
        {
            "id": "p",
            "vmSize": "local",
            "targetDedicatedNodes": 2,
            "taskSlotsPerNode": 2,
            "startTask": {
                "commandLine": f"sleep 0.2; echo x >> {tmp_path}/started; echo ready > {tmp_path}/ready",
                "waitForSuccess": True,
            },
        }
    )
    svc.ensure_pool(PoolPlacement(mode="onDemand", pool=pool), owner="r")
    for job_id in ("j1", "j2"):
        svc.create_job(JobSpec(id=job_id, pool_info=PoolInformation(pool_id="p")))
        svc.add_tasks(job_id, [task(f"t{i}", f"cat {tmp_path}/ready") for i in range(3)])
    assert wait_done(svc, "j1").succeeded == 3
    assert wait_done(svc, "j2").succeeded == 3
    assert (tmp_path / "started").read_text() == "x\n"


def test_failed_start_task_fails_the_pool_tasks_instead_of_hanging(svc):
    pool = PoolSpec.model_validate(
        {
            "id": "bad",
            "vmSize": "local",
            "targetDedicatedNodes": 1,
            "startTask": {"commandLine": "exit 1", "waitForSuccess": True},
        }
    )
    svc.ensure_pool(PoolPlacement(mode="onDemand", pool=pool), owner="r")
    svc.create_job(JobSpec(id="j", pool_info=PoolInformation(pool_id="bad")))
    svc.add_tasks("j", [task("t", "true")])
    wait_done(svc, "j")
    assert [f.code for f in svc.list_failed_tasks("j")] == ["StartTaskFailed"]


def test_spot_preemption_requeues_without_counting_a_retry(tmp_path):
    pool = PoolSpec.model_validate(
        {
            "id": "spot",
            "vmSize": "local",
            "targetLowPriorityNodes": 2,
            "taskSlotsPerNode": 2,
            "metadata": [{"name": PREEMPT_METADATA_KEY, "value": "1.0"}],
        }
    )
    with LocalBatchService(tmp_path / "s", max_slots=4, max_requeues=2) as svc:
        ref = svc.ensure_pool(PoolPlacement(mode="onDemand", pool=pool), owner="r")
        assert ref.low_priority
        svc.create_job(JobSpec(id="j", pool_info=ref.pool_info()))
        svc.add_tasks("j", [task(f"t{i}", "echo done") for i in range(4)])
        assert wait_done(svc, "j").succeeded == 4
        states = [svc.task_state("j", f"t{i}") for i in range(4)]
        assert all(s["requeue_count"] == 2 and s["retry_count"] == 0 for s in states)


def test_partial_preemption_hits_only_some_tasks(tmp_path):
    pool = PoolSpec.model_validate(
        {
            "id": "spot",
            "vmSize": "local",
            "targetDedicatedNodes": 1,
            "targetLowPriorityNodes": 1,
            "taskSlotsPerNode": 2,
            "metadata": [{"name": PREEMPT_METADATA_KEY, "value": "0.5"}],
        }
    )
    with LocalBatchService(tmp_path / "s", max_slots=4, preempt_seed=3) as svc:
        svc.ensure_pool(PoolPlacement(mode="onDemand", pool=pool), owner="r")
        svc.create_job(JobSpec(id="j", pool_info=PoolInformation(pool_id="spot")))
        svc.add_tasks("j", [task(f"t{i}", "true") for i in range(30)])
        assert wait_done(svc, "j").succeeded == 30
        requeues = [svc.task_state("j", f"t{i}")["requeue_count"] for i in range(30)]
        assert 0 < sum(1 for r in requeues if r) < 30


def test_job_manager_task_runs_first_and_completion_terminates_the_job(svc):
    make_job(svc, job_manager_task={"id": "manager", "commandLine": "echo managing"})
    eventually(lambda: svc.task_state("job", "manager")["state"] == "completed")
    with pytest.raises(BatchServiceError) as err:
        svc.add_tasks("job", [task("late", "true")])
    assert err.value.code == "JobCompleted"


def test_on_all_tasks_complete_terminates_the_job(svc):
    make_job(svc, on_all_tasks_complete="terminateJob")
    svc.add_tasks("job", [task("a", "true"), task("b", "exit 1")])
    wait_done(svc, "job")
    eventually(lambda: _job_state(svc, "job") == "completed")


def _job_state(svc: LocalBatchService, job_id: str) -> str:
    return svc.job_state(job_id)["state"]


def test_terminate_job_kills_running_tasks_and_delete_removes_the_job(svc):
    make_job(svc)
    svc.add_tasks("job", [task("long", "sleep 30")])
    eventually(lambda: svc.get_task_counts("job").running == 1)
    svc.terminate_job("job")
    counts = wait_done(svc, "job", timeout=5)
    assert counts.failed == 1
    assert svc.list_failed_tasks("job")[0].code == "TaskEnded"
    svc.delete_job("job")
    svc.delete_job("job")
    with pytest.raises(BatchServiceError):
        svc.get_task_counts("job")


def test_autopool_lives_and_dies_with_its_job(svc):
    pool = PoolSpec(id="ignored", vm_size="local", target_dedicated_nodes=1)
    ref = svc.ensure_pool(PoolPlacement(mode="autoPool", pool=pool, auto_pool_id_prefix="ap"), owner="r")
    svc.create_job(JobSpec(id="j", pool_info=ref.pool_info()))
    svc.add_tasks("j", [task("t", "echo $AZ_BATCH_POOL_ID")])
    wait_done(svc, "j")
    assert (svc.task_dir("j", "t") / "stdout.txt").read_text() == "ap_j\n"
    svc.terminate_job("j")
    with pytest.raises(BatchServiceError):
        svc.ensure_pool(PoolPlacement(mode="existing", pool_id="ap_j"), owner="x")


def test_resource_and_output_files_go_through_blob_storage(tmp_path, storage_connection):
    blobs = BlobServiceClient.from_connection_string(storage_connection)
    inputs = blobs.get_container_client(f"in-{uuid.uuid4().hex[:8]}")
    inputs.create_container()
    inputs.upload_blob("data/part-1.csv", b"1,2\n")
    inputs.upload_blob("data/part-2.csv", b"3,4\n")
    inputs.upload_blob("script.sh", b"cat input/data/*.csv > out/all.csv; echo summary > out/summary.txt\n")
    local_file = tmp_path / "local.txt"
    local_file.write_text("from disk\n")
    out_name = f"out-{uuid.uuid4().hex[:8]}"
    out_url = f"{blobs.url.rstrip('/')}/{out_name}"
    with LocalBatchService(tmp_path / "s", storage_connection=storage_connection, max_slots=2) as svc:
        make_job(svc)
        svc.add_tasks(
            "job",
            [
                task(
                    "t1",
                    "mkdir -p out && sh script.sh && cat local.txt",
                    resourceFiles=[
                        {"httpUrl": f"{inputs.url}/script.sh", "filePath": "script.sh"},
                        {"storageContainerUrl": inputs.url, "blobPrefix": "data/", "filePath": "input"},
                        {"httpUrl": str(local_file), "filePath": "local.txt"},
                    ],
                    outputFiles=[
                        {
                            "filePattern": "out/*",
                            "destination": {"container": {"containerUrl": out_url, "path": "results/t1"}},
                            "uploadOptions": {"uploadCondition": "taskSuccess"},
                        },
                        {
                            "filePattern": "../std*.txt",
                            "destination": {"container": {"containerUrl": out_url, "path": "logs/t1"}},
                            "uploadOptions": {"uploadCondition": "taskCompletion"},
                        },
                        {
                            "filePattern": "out/all.csv",
                            "destination": {
                                "container": {"containerUrl": out_url, "path": "failed-only.csv"}
                            },
                            "uploadOptions": {"uploadCondition": "taskFailure"},
                        },
                    ],
                )
            ],
        )
        assert wait_done(svc, "job").succeeded == 1
    out = blobs.get_container_client(out_name)
    names = sorted(b.name for b in out.list_blobs())
    assert names == [
        "logs/t1/stderr.txt",
        "logs/t1/stdout.txt",
        "results/t1/all.csv",
        "results/t1/summary.txt",
    ]
    assert out.download_blob("results/t1/all.csv").readall() == b"1,2\n3,4\n"
    assert out.download_blob("logs/t1/stdout.txt").readall() == b"from disk\n"


def test_missing_resource_file_fails_the_task_with_a_clear_reason(tmp_path, storage_connection):
    with LocalBatchService(tmp_path / "s", storage_connection=storage_connection, max_slots=2) as svc:
        make_job(svc)
        blob_url = BlobServiceClient.from_connection_string(storage_connection).url.rstrip("/")
        svc.add_tasks(
            "job",
            [task("t", "true", resourceFiles=[{"httpUrl": f"{blob_url}/nope/x.txt", "filePath": "x.txt"}])],
        )
        wait_done(svc, "job")
        [failed] = svc.list_failed_tasks("job")
        assert failed.code == "ResourceFileDownloadFailed" and "resourceFiles[0]" in (failed.message or "")


def test_state_survives_a_clean_restart(tmp_path):
    with LocalBatchService(tmp_path / "s", max_slots=2) as svc:
        make_job(svc)
        svc.add_tasks("job", [task("a", "exit 0"), task("b", "exit 4")])
        wait_done(svc, "job")
    with LocalBatchService(tmp_path / "s", max_slots=2) as svc:
        counts = svc.get_task_counts("job")
        assert (counts.succeeded, counts.failed) == (1, 1)
        assert svc.list_failed_tasks("job")[0].exit_code == 4


def test_a_second_owner_of_the_same_state_is_refused(tmp_path):
    with LocalBatchService(tmp_path / "s"), pytest.raises(RuntimeError, match="another process"):
        LocalBatchService(tmp_path / "s")


OWNER_SCRIPT = """
import sys, time
from pathlib import Path
from jobclusters.services.batch import JobSpec, PoolPlacement, PoolSpec, TaskSpec
from jobclusters.services.local_batch import LocalBatchService
state = Path(sys.argv[1])
svc = LocalBatchService(state, max_slots=4)
ref = svc.ensure_pool(PoolPlacement(mode="onDemand", pool=PoolSpec(id="p", vm_size="local",
                      target_dedicated_nodes=1, task_slots_per_node=4)), owner="r")
svc.create_job(JobSpec(id="job", pool_info=ref.pool_info()))
ground, marker = state / "ground", state / "marker"
def gated(gate, name, code=0):
    return (f"while [ ! -f {state / gate} ]; do sleep 0.02; done; echo {name} >> {ground}; exit {code}")
svc.add_tasks("job", [
    TaskSpec.model_validate({"id": "ended", "commandLine": gated("go", "ended")}),
    TaskSpec.model_validate({"id": "failed", "commandLine": gated("go", "failed", 3)}),
    TaskSpec.model_validate({"id": "running", "constraints": {"maxTaskRetryCount": 2},
                             "commandLine": gated("go-later", "running")}),
    TaskSpec.model_validate({"id": "lost",
                             "commandLine": f"test -f {marker} || {{ touch {marker}; sleep 60; }}"}),
])
names = ("ended", "failed", "running", "lost")
def started():
    pids = list(state.rglob(".attempt-*.pid"))
    return all(svc.task_state("job", t)["pgid"] for t in names) and len(pids) == 4
while not started():
    time.sleep(0.02)
time.sleep(0.5)  # the executor persists state at most every 100 ms
print(svc.task_state("job", "lost")["pgid"], flush=True)
time.sleep(60)
"""


def test_a_new_owner_adopts_what_the_dead_owner_started_and_requeues_only_the_unknown(tmp_path):
    """Issue 13 defect 1: work that went on (or ended) while no owner ran is neither failed nor repeated;
    only the attempt that died with the host (no exit code on disk) runs again."""
    state = tmp_path / "s"
    state.mkdir()
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER_SCRIPT, str(state)],
        stdout=subprocess.PIPE,
        cwd=PROJECT,
        env={**os.environ, "PYTHONPATH": str(PROJECT)},
    )
    try:
        assert owner.stdout is not None
        lost_pgid = int(owner.stdout.readline().strip())
    finally:
        owner.send_signal(signal.SIGKILL)
        owner.wait()
    os.killpg(lost_pgid, signal.SIGKILL)  # this one goes down with the host
    (state / "go").touch()
    eventually(
        lambda: (
            sorted((state / "ground").read_text().split()) == ["ended", "failed"]
            if (state / "ground").exists()
            else False
        )
    )
    with LocalBatchService(state, max_slots=4) as svc:
        (state / "go-later").touch()
        counts = wait_done(svc, "job")
        assert (counts.succeeded, counts.failed) == (3, 1)
        [failed] = svc.list_failed_tasks("job")
        assert (failed.task_id, failed.exit_code, failed.code) == ("failed", 3, "FailureExitCode")
        assert svc.task_state("job", "running")["retry_count"] == 0
        lost = svc.task_state("job", "lost")
        assert (lost["retry_count"], lost["requeue_count"], lost["result"]) == (0, 1, "success")
    assert sorted((state / "ground").read_text().split()) == ["ended", "failed", "running"]
    leftovers = subprocess.run(["pgrep", "-f", "sleep 60"], capture_output=True, text=True).stdout.split()
    mine = [p for p in leftovers if str(state) in Path(f"/proc/{p}/cwd").resolve().as_posix()]
    assert mine == [], "no process of the dead owner is left behind"


def test_models_in_results_are_json_for_activity_payloads(svc):
    make_job(svc)
    svc.add_tasks("job", [task("x", "exit 2")])
    wait_done(svc, "job")
    payload = json.dumps([f.model_dump(mode="json") for f in svc.list_failed_tasks("job")])
    assert '"exit_code": 2' in payload


def test_the_local_executor_is_shared_per_state_dir(tmp_path, storage_connection):
    state = tmp_path / "shared"
    first = shared_local_batch(state, storage_connection=storage_connection)
    second = shared_local_batch(tmp_path / "x" / ".." / "shared", storage_connection=storage_connection)
    assert isinstance(first, LocalBatchService) and first is second
    first.close()
    third = shared_local_batch(state, storage_connection=storage_connection)
    assert third is not first, "a closed executor is not handed out again"
    assert isinstance(third, LocalBatchService)
    close_shared_local_batch(state)
    assert third.closed


def test_the_factory_hands_out_the_shared_executor_and_reset_leaves_it_running(
    tmp_path, storage_connection, monkeypatch
):
    from jobclusters.services import factory

    state = tmp_path / "shared"
    monkeypatch.setenv("JOBCLUSTERS_MODE", "local")
    monkeypatch.setenv("JOBCLUSTERS_STATE_DIR", str(state))
    monkeypatch.setenv("AzureWebJobsStorage", storage_connection)
    factory.reset()
    try:
        first = factory.get_batch_service()
        assert first is shared_local_batch(state)
        factory.reset()
        assert factory.get_batch_service() is first and not first.closed, "its tasks outlive reset()"
        factory.close_local_batch(state)
        assert first.closed
        second = factory.get_batch_service()
        assert second is not first and isinstance(second, LocalBatchService)
    finally:
        factory.close_local_batch(state)
        monkeypatch.undo()
        factory.reset()


def test_job_preparation_runs_before_tasks_and_release_runs_when_the_job_ends(svc, tmp_path):
    make_job(
        svc,
        job_preparation_task={"commandLine": "echo prepared > $AZ_BATCH_JOB_PREP_WORKING_DIR/ready"},
        job_release_task={"commandLine": f"echo released > {tmp_path}/released"},
    )
    svc.add_tasks("job", [task(f"t{i}", "cat $AZ_BATCH_JOB_PREP_WORKING_DIR/ready") for i in range(2)])
    assert wait_done(svc, "job").succeeded == 1 + 1
    assert (svc.task_dir("job", "t0") / "stdout.txt").read_text() == "prepared\n"
    svc.terminate_job("job")
    eventually(lambda: (tmp_path / "released").exists())


def test_job_max_wall_clock_time_terminates_the_job_and_its_running_tasks(svc, clock):
    make_job(svc, constraints=JobConstraints(max_wall_clock_time=timedelta(seconds=60)))
    svc.add_tasks("job", [task("long", "sleep 30")])
    eventually(lambda: svc.get_task_counts("job").running == 1)
    clock.advance(59.9)
    svc.sync()
    assert _job_state(svc, "job") == "active", "the limit has not passed yet"
    clock.advance(0.2)
    counts = wait_done(svc, "job", timeout=5)
    assert counts.failed == 1
    assert _job_state(svc, "job") == "completed"


def test_a_failure_terminates_the_job_when_exit_options_say_so(svc):
    make_job(svc, on_task_failure="performExitOptionsJobAction")
    svc.add_tasks(
        "job",
        [
            task("fails", "exit 2"),
            task("tolerated", "exit 3", exitConditions={"default": {"jobAction": "none"}}),
        ],
    )
    eventually(lambda: _job_state(svc, "job") == "completed")
    assert svc.job_state("job")["endReason"] == "TaskFailed"
