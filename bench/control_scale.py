"""Control flow at size, through devhost + Azurite (wall clock: `devhost start` has no virtual time, and the
local Batch work is real processes anyway); last line is JSON.

- dag_largest_history: the largest history any Durable instance reached while a wide DAG of
  `--dag-tasks` trivial local Batch commands ran (every task depends on one of the previous layer, so
  `run_job` walks it in waves and continues as new; read from devhost's store as it is written).
- for_each_largest_history: the same for a for_each over `--inputs` inputs (`--concurrency` at a time).
- for_each_iterations_per_s and xargs_per_s: iterations per second of that for_each next to the same
  commands run by `xargs -P <concurrency>`, and their ratio, measured in this one run. The for_each runs
  on a pool of one node with 4 task slots, so at most 4 commands run at once whatever its concurrency, as
  on Azure Batch: xargs_pool_per_s (`xargs -P 4`) is the same commands at the parallelism the pool allows.

    python bench/control_scale.py [--dag-tasks 1000] [--inputs 10000] [--concurrency 100]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from devhost.azurite import start_azurite  # noqa: E402
from devhost.ports import free_port  # noqa: E402
from jobclusters.client.api import ApiClient, ApiClientError  # noqa: E402
from jobclusters.client.launcher import EmbeddedDefault  # noqa: E402
from jobclusters.execution.batch_mapping import DEFAULT_SLOTS_PER_NODE  # noqa: E402
from tests.history_peak import HistoryPeak  # noqa: E402

KEY = "bench-control-key"
TAGS = {"Project": "bench", "Environment": "test", "CostCenter": "cc-0", "Owner": "bench"}
POOL_NODES = 1
POOL = {
    "key": "pool",
    "cluster": {"platform": "batch", "node_type": "Standard_D2s_v3", "num_workers": POOL_NODES},
}
COMPUTE = {"kind": "job_cluster", "job_cluster_key": "pool"}
COMMAND = "true"


def wide_dag(tasks: int, width: int = 100) -> dict[str, Any]:
    found = []
    for i in range(tasks):
        task: dict[str, Any] = {
            "key": f"t{i:04d}",
            "compute": COMPUTE,
            "payload": {"kind": "command", "command_line": COMMAND},
        }
        if i >= width:
            task["depends_on"] = [{"task_key": f"t{i - width:04d}"}]
        found.append(task)
    return {
        "format": "jobclusters/v1",
        "name": "bench-dag",
        "tags": TAGS,
        "job_clusters": [POOL],
        "tasks": found,
    }


def for_each_job(inputs: int, concurrency: int) -> dict[str, Any]:
    nested = {"key": "one", "compute": COMPUTE, "payload": {"kind": "command", "command_line": COMMAND}}
    return {
        "format": "jobclusters/v1",
        "name": "bench-for-each",
        "tags": TAGS,
        "job_clusters": [POOL],
        "tasks": [
            {
                "key": "items",
                "payload": {
                    "kind": "for_each",
                    "inputs": list(range(inputs)),
                    "concurrency": concurrency,
                    "task": nested,
                },
            }
        ],
    }


def start_devhost(connection: str, state: Path) -> tuple[subprocess.Popen[bytes], ApiClient]:
    port = free_port()
    env = {
        "AzureWebJobsStorage": connection,
        "JOBCLUSTERS_TABLE_PREFIX": "bench" + uuid.uuid4().hex[:6],
        "JOBCLUSTERS_MODE": "local",
        "DEVHOST_FUNCTION_KEY": KEY,
    }
    launcher = EmbeddedDefault(PROJECT, state, env=env, port=port)
    command = [sys.executable, "-m", "devhost", "--app", str(PROJECT), "start", "--port", str(port)]
    command += ["--state", str(state / "devhost")]
    log = open(state / "devhost.log", "ab")  # noqa: SIM115 - the child writes it
    process = subprocess.Popen(
        command,
        cwd=PROJECT,
        env=launcher.environment(),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    client = ApiClient(f"http://127.0.0.1:{port}", KEY)
    deadline = time.monotonic() + 120
    while True:
        try:
            client.list_jobs()
            return process, client
        except Exception:
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"devhost did not start; see {state / 'devhost.log'}") from None
            time.sleep(0.5)


def run_to_end(client: ApiClient, job: dict[str, Any], timeout: float) -> tuple[dict[str, Any], float, str]:
    job_id = client.register_job(job)["job_id"]
    started = time.monotonic()
    run_id = client.start_job(job_id)["run_id"]
    while True:
        try:
            view = client.get_run(run_id)
        except ApiClientError as exc:
            if exc.status != 404:
                raise
            view = {}
        if view.get("done"):
            return view, time.monotonic() - started, run_id
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"run {run_id} not done after {timeout:.0f} s")
        time.sleep(1.0)


def xargs_seconds(inputs: int, concurrency: int) -> float:
    feed = "".join(f"{i}\n" for i in range(inputs)).encode()
    started = time.monotonic()
    subprocess.run(
        ["xargs", "-P", str(concurrency), "-I{}", "sh", "-c", COMMAND],
        input=feed,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dag-tasks", type=int, default=1000)
    parser.add_argument("--inputs", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--timeout", type=float, default=3600)
    args = parser.parse_args()

    figures: dict[str, Any] = {
        "dag_tasks": args.dag_tasks,
        "inputs": args.inputs,
        "concurrency": args.concurrency,
    }
    with start_azurite(None, project_dir=PROJECT) as azurite, tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp)
        process, client = start_devhost(azurite.connection_string, state)
        try:
            peak = HistoryPeak(state / "devhost")
            peak.install()
            if args.dag_tasks:
                view, seconds, run_id = run_to_end(client, wide_dag(args.dag_tasks), args.timeout)
                instance, events = peak.largest(run_id)
                figures.update(dag_result=view.get("result"), dag_seconds=round(seconds, 1))
                figures.update(dag_largest_history=events, dag_largest_instance=instance)
                result = view.get("result")
                print(f"DAG of {args.dag_tasks}: {result} in {seconds:.0f} s; largest history {events}")
            if args.inputs:
                job = for_each_job(args.inputs, args.concurrency)
                view, seconds, run_id = run_to_end(client, job, args.timeout)
                instance, events = peak.largest(run_id)
                rate = args.inputs / seconds
                figures.update(for_each_result=view.get("result"), for_each_seconds=round(seconds, 1))
                figures.update(for_each_largest_history=events, for_each_largest_instance=instance)
                figures.update(for_each_iterations_per_s=round(rate, 2))
                print(f"for_each of {args.inputs}: {view.get('result')} in {seconds:.0f} s ({rate:.1f}/s)")
                baseline = xargs_seconds(args.inputs, args.concurrency)
                figures.update(xargs_per_s=round(args.inputs / baseline, 1))
                figures["for_each_vs_xargs"] = round(rate / (args.inputs / baseline), 5)
                print(f"xargs -P {args.concurrency}: {baseline:.2f} s; ratio {figures['for_each_vs_xargs']}")
                slots = min(args.concurrency, POOL_NODES * DEFAULT_SLOTS_PER_NODE)
                at_pool = xargs_seconds(args.inputs, slots)
                figures.update(xargs_pool_per_s=round(args.inputs / at_pool, 1))
                figures["for_each_vs_xargs_pool"] = round(rate / (args.inputs / at_pool), 5)
                print(f"xargs -P {slots}: {at_pool:.2f} s; ratio {figures['for_each_vs_xargs_pool']}")
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=60)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
