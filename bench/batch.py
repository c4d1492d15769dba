"""Batch and tracking benchmarks, each measured side by side in one run; last line is JSON.

- submit10k_speedup: 10,000 tasks through AzureBatchService.add_tasks (size-aware chunks, bounded
  parallelism) versus sequential 100-task `create_task_collection` calls as the seed's job manager does;
  both with the same SDK client against the loopback Batch REST server, which adds a fixed per-request
  service latency (BENCH_BATCH_LATENCY, default 50 ms; real Batch answers add-collection in 100s of ms).
- local1000_overhead: 1,000 trivial tasks through the local executor versus `xargs -P <slots>` running
  the same shell commands (best of BENCH_REPEAT alternating rounds each, to damp a shared machine).
- tracking_batch_speedup: 10,000 task-run rows via batch transactions versus one upsert each, against a
  private in-memory Azurite.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from azure.batch import BatchClient  # noqa: E402
from azure.batch import models as batch_models  # noqa: E402
from azure.core.credentials import AzureNamedKeyCredential  # noqa: E402

from devhost.azurite import start_azurite  # noqa: E402
from jobclusters.services.azure_batch import AzureBatchService, task_body  # noqa: E402
from jobclusters.services.batch import (  # noqa: E402
    JobSpec,
    PoolInformation,
    PoolPlacement,
    PoolSpec,
    TaskSpec,
    make_task_id,
)
from jobclusters.services.local_batch import LocalBatchService  # noqa: E402
from jobclusters.tracking.models import RunState, TaskRunRecord  # noqa: E402
from jobclusters.tracking.table_store import TableRunStore  # noqa: E402
from tests.fakes.batch_rest import FakeBatchServer  # noqa: E402


def seed_tasks(run_id: str, n: int) -> list[TaskSpec]:
    """Tasks shaped like the seed job manager's: resource files, output files, constraints."""
    return [
        TaskSpec.model_validate(
            {
                "id": make_task_id(run_id, i),
                "displayName": f"Process input_{i}.csv",
                "commandLine": (
                    f"python3 task_processor.py --input input_{i}.csv --output output_{i}.csv --task-id {i}"
                ),
                "resourceFiles": [
                    {
                        "httpUrl": f"https://acct.blob.core.windows.net/data/input_{i}.csv",
                        "filePath": f"input_{i}.csv",
                    },
                    {
                        "httpUrl": "https://acct.blob.core.windows.net/scripts/task_processor.py",
                        "filePath": "task_processor.py",
                    },
                ],
                "outputFiles": [
                    {
                        "filePattern": "output_*.csv",
                        "destination": {
                            "container": {
                                "containerUrl": "https://acct.blob.core.windows.net/results",
                                "path": f"processed/task_{i}/",
                            }
                        },
                        "uploadOptions": {"uploadCondition": "taskSuccess"},
                    }
                ],
                "constraints": {"maxWallClockTime": "PT1H", "maxTaskRetryCount": 2},
            }
        )
        for i in range(n)
    ]


def bench_submit(n: int = 10_000) -> dict[str, float]:
    latency = float(os.environ.get("BENCH_BATCH_LATENCY", "0.05"))
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.batch_rest", "--latency", str(latency)],
        cwd=PROJECT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None and server.stdin is not None
        url = server.stdout.readline().strip()
        credential = AzureNamedKeyCredential(FakeBatchServer.account_name, FakeBatchServer.account_key)
        service = AzureBatchService(url, credential, parallelism=8)
        service.create_job(JobSpec(id="bench-ours", pool_info=PoolInformation(pool_id="p")))
        service.create_job(JobSpec(id="bench-seed", pool_info=PoolInformation(pool_id="p")))

        seed = seed_tasks("seed", n)
        client = BatchClient(url, credential, retry_total=0)
        started = time.perf_counter()
        for i in range(0, n, 100):  # the seed's loop: build 100, send, repeat
            chunk = [task_body(t) for t in seed[i : i + 100]]
            client.create_task_collection("bench-seed", batch_models.BatchTaskGroup({"value": chunk}))
        baseline = time.perf_counter() - started

        tasks = seed_tasks("ours", n)
        started = time.perf_counter()
        result = service.add_tasks("bench-ours", tasks)
        ours = time.perf_counter() - started
        assert len(result.added) == n and not result.failed
        for job_id in ("bench-ours", "bench-seed"):
            assert service.get_task_counts(job_id).active == n
        service.close()
        client.close()
        server.stdin.close()
        assert server.wait(timeout=30) == 0, "the loopback server saw requests the Batch REST API rejects"
    finally:
        if server.poll() is None:
            server.kill()
    print(
        f"submit {n} tasks: ours {ours:.2f}s, seed-style sequential {baseline:.2f}s "
        f"(service latency {latency * 1000:.0f} ms/request, server in its own process)"
    )
    return {"submit10k_ours_s": ours, "submit10k_seed_s": baseline, "submit10k_speedup": baseline / ours}


def rounds(times: list[float]) -> list[float]:
    return [round(t, 2) for t in times]


def bench_local(n: int = 1000) -> dict[str, float]:
    slots = int(os.environ.get("BENCH_LOCAL_SLOTS", "4"))
    repeat = int(os.environ.get("BENCH_REPEAT", "3"))
    commands = [f"echo task {i} > /dev/null" for i in range(n)]
    ours_times: list[float] = []
    xargs_times: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        svc = LocalBatchService(Path(tmp) / "state", max_slots=slots)
        pool = PoolSpec(id="bench", vm_size="local", target_dedicated_nodes=1, task_slots_per_node=slots)
        ref = svc.ensure_pool(PoolPlacement(mode="onDemand", pool=pool), owner="bench")
        for round_no in range(repeat):
            job_id = f"job-{round_no}"
            svc.create_job(JobSpec(id=job_id, pool_info=ref.pool_info()))
            tasks = [TaskSpec(id=f"t{i}", command_line=c) for i, c in enumerate(commands)]
            started = time.perf_counter()
            svc.add_tasks(job_id, tasks)
            while True:
                counts = svc.get_task_counts(job_id)
                if counts.completed == n:
                    break
                time.sleep(0.02)
            ours_times.append(time.perf_counter() - started)
            assert counts.succeeded == n, counts
            svc.delete_job(job_id)

            started = time.perf_counter()
            subprocess.run(
                ["xargs", "-P", str(slots), "-I{}", "/bin/sh", "-c", "{}"],
                input="\n".join(commands).encode(),
                check=True,
            )
            xargs_times.append(time.perf_counter() - started)
        svc.close()
    ours, xargs = min(ours_times), min(xargs_times)
    print(
        f"local {n} trivial tasks on {slots} slots: executor {ours:.2f}s, xargs -P {slots} {xargs:.2f}s "
        f"(best of {repeat}; rounds {rounds(ours_times)} vs {rounds(xargs_times)})"
    )
    return {"local1000_ours_s": ours, "local1000_xargs_s": xargs, "local1000_overhead": ours / xargs}


def bench_tracking(n: int = 10_000) -> dict[str, float]:
    with start_azurite(None, project_dir=PROJECT) as azurite:
        store = TableRunStore(azurite.connection_string, table_prefix=f"bench{uuid.uuid4().hex[:6]}")
        records = [
            TaskRunRecord(
                run_id="run-single",
                task_key=f"t{i:05d}",
                state=RunState.SUCCESS,
                exit_code=0,
                external_id=f"job/task-{i}",
            )
            for i in range(n)
        ]
        table = store._runs
        started = time.perf_counter()
        for record in records:
            table.upsert_entity(store._task_entity(record))
        baseline = time.perf_counter() - started

        batched = [r.model_copy(update={"run_id": "run-batch"}) for r in records]
        started = time.perf_counter()
        written = store.record_task_runs("run-batch", batched)
        ours = time.perf_counter() - started
        assert written == n
    print(f"tracking {n} task-run rows: batch transactions {ours:.2f}s, one upsert each {baseline:.2f}s")
    return {
        "tracking_batch_s": ours,
        "tracking_single_s": baseline,
        "tracking_batch_speedup": baseline / ours,
    }


def main() -> None:
    results: dict[str, float] = {}
    results.update(bench_submit())
    results.update(bench_local())
    results.update(bench_tracking())
    print(json.dumps({k: round(v, 3) for k, v in results.items()}))


if __name__ == "__main__":
    main()
