"""devhost replay cost, side by side with durabletask's in-process test backend, in one run.

Workloads: 1,000 sequential activities and a fan-out/fan-in of 5,000, the same orchestrator logic on both
engines (azure.durable_functions code on devhost, durabletask code on durabletask.testing). devhost keeps
each orchestrator's generator alive between episodes, so it should not pay the SDK's O(N^2) full replays.
Peak RSS of a 10,000-activity fan-out is measured in a fresh subprocess. Last line: one JSON object.

    .venv/bin/python bench/devhost_replay.py [--seq N] [--fan N] [--rss-fan N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

APP_SOURCE = """
import azure.durable_functions as df

app = df.DFApp()


@app.orchestration_trigger(context_name="context")
def sequence(context):
    total = 0
    for i in range(context.get_input()):
        total += yield context.call_activity("inc", i)
    return total


@app.orchestration_trigger(context_name="context")
def fan(context):
    n = context.get_input()
    results = yield context.task_all([context.call_activity("inc", i) for i in range(n)])
    return sum(results)


@app.activity_trigger(input_name="x")
def inc(x: int) -> int:
    return x + 1
"""


def write_app(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "function_app.py").write_text(APP_SOURCE, encoding="utf-8")
    return directory


# --------------------------------------------------------------------------- devhost
async def _devhost_run(app_dir: Path, state: Path | None, name: str, n: int) -> dict[str, Any]:
    from devhost.app_loader import load_app
    from devhost.engine import DurableEngine

    engine = DurableEngine(load_app(app_dir), state)
    await engine.start()
    try:
        started = time.perf_counter()
        instance_id = await engine.start_new(name, input_json=json.dumps(n))
        final = await engine.wait_for_terminal(instance_id, timeout=600)
        seconds = time.perf_counter() - started
        full = await engine.get_instance(instance_id, show_history=True)
        assert full is not None and full.history is not None
        return {
            "seconds": seconds,
            "status": final.runtime_status.value,
            "output": json.loads(final.output or "null"),
            "replayed_events": engine.stats.replayed_events,
            "history_events": len(full.history),
            "episodes": engine.stats.episodes,
        }
    finally:
        await engine.stop()


def devhost_run(app_dir: Path, name: str, n: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="devhost-bench-") as tmp:
        return asyncio.run(_devhost_run(app_dir, Path(tmp) / "devhost.sqlite3", name, n))


# --------------------------------------------------------------------------- durabletask
def durabletask_run(name: str, n: int) -> dict[str, Any]:
    from durabletask import client as dt_client
    from durabletask import worker as dt_worker
    from durabletask.testing import create_test_backend

    from devhost.ports import free_port

    def inc(ctx: Any, x: int) -> int:
        return x + 1

    def sequence(ctx: Any, count: int) -> Any:
        total = 0
        for i in range(count):
            total += yield ctx.call_activity(inc, input=i)
        return total

    def fan(ctx: Any, count: int) -> Any:
        results = yield dt_task_when_all([ctx.call_activity(inc, input=i) for i in range(count)])
        return sum(results)

    from durabletask.task import when_all as dt_task_when_all

    quiet = logging.getLogger("devhost-bench.durabletask")
    quiet.setLevel(logging.ERROR)
    port = free_port()
    backend = create_test_backend(port=port, max_history_size=4 * n + 100)
    address = f"127.0.0.1:{port}"
    worker = dt_worker.TaskHubGrpcWorker(host_address=address, logger=quiet)
    worker.add_orchestrator(sequence)
    worker.add_orchestrator(fan)
    worker.add_activity(inc)
    worker.start()
    client = dt_client.TaskHubGrpcClient(host_address=address, logger=quiet)
    try:
        started = time.perf_counter()
        instance_id = client.schedule_new_orchestration(sequence if name == "sequence" else fan, input=n)
        state = client.wait_for_orchestration_completion(instance_id, timeout=900)
        seconds = time.perf_counter() - started
        assert state is not None
        return {
            "seconds": seconds,
            "status": state.runtime_status.name,
            "output": json.loads(state.serialized_output or "null"),
        }
    finally:
        worker.stop()
        backend.stop()


# --------------------------------------------------------------------------- peak RSS
def rss_child(app_dir: Path, n: int) -> None:
    import resource

    result = devhost_run(app_dir, "fan", n)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps({"status": result["status"], "seconds": result["seconds"], "peak_rss_mb": peak_kb / 1024})
    )


def peak_rss_mb(app_dir: Path, n: int) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, __file__, "--rss-child", str(n), "--app-dir", str(app_dir)],
        capture_output=True,
        text=True,
        check=True,
        timeout=900,
    )
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seq", type=int, default=1000)
    parser.add_argument("--fan", type=int, default=5000)
    parser.add_argument("--rss-fan", type=int, default=10000)
    parser.add_argument("--rss-child", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--app-dir", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("durabletask").setLevel(logging.ERROR)

    with tempfile.TemporaryDirectory(prefix="devhost-bench-app-") as tmp:
        app_dir = args.app_dir or write_app(Path(tmp) / "app")
        if args.rss_child is not None:
            rss_child(app_dir, args.rss_child)
            return 0

        seq_expected = args.seq * (args.seq + 1) // 2
        fan_expected = args.fan * (args.fan + 1) // 2

        dh_seq = devhost_run(app_dir, "sequence", args.seq)
        dt_seq = durabletask_run("sequence", args.seq)
        times = f"devhost {dh_seq['seconds']:.2f} s, durabletask {dt_seq['seconds']:.2f} s"
        events = f"history {dh_seq['history_events']} events, replayed {dh_seq['replayed_events']}"
        print(f"sequential {args.seq}: {times} ({events})")
        dh_fan = devhost_run(app_dir, "fan", args.fan)
        dt_fan = durabletask_run("fan", args.fan)
        print(f"fan-out {args.fan}: devhost {dh_fan['seconds']:.2f} s, durabletask {dt_fan['seconds']:.2f} s")
        for label, got, expected in (
            ("devhost seq", dh_seq["output"], seq_expected),
            ("durabletask seq", dt_seq["output"], seq_expected),
            ("devhost fan", dh_fan["output"], fan_expected),
            ("durabletask fan", dt_fan["output"], fan_expected),
        ):
            if got != expected:
                print(f"{label}: wrong output {got!r}, expected {expected}", file=sys.stderr)
                return 1
        rss = peak_rss_mb(app_dir, args.rss_fan)
        peak = f"peak RSS {rss['peak_rss_mb']:.0f} MB"
        print(f"fan-out {args.rss_fan} in a fresh process: {rss['seconds']:.2f} s, {peak}")

    summary = {
        f"seq{args.seq}_speedup": round(dt_seq["seconds"] / dh_seq["seconds"], 2),
        f"fan{args.fan}_speedup": round(dt_fan["seconds"] / dh_fan["seconds"], 2),
        f"replayed_events_seq{args.seq}": dh_seq["replayed_events"],
        f"history_events_seq{args.seq}": dh_seq["history_events"],
        f"peak_rss_mb_fan{args.rss_fan}": round(rss["peak_rss_mb"], 1),
        "devhost_seconds": {"seq": round(dh_seq["seconds"], 3), "fan": round(dh_fan["seconds"], 3)},
        "durabletask_seconds": {"seq": round(dt_seq["seconds"], 3), "fan": round(dt_fan["seconds"], 3)},
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
