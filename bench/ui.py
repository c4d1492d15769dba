"""The run monitor's speed: the API call that feeds a page next to the time until the page is drawn.

A private Azurite and devhost (the e2e launcher), Debian's Chromium through Playwright. Runs of 10-, 100-
and 1,000-task DAGs (layered: each task depends on up to two of the previous layer) and a list of 10,000
runs are written straight into tracking (Table storage), the jobs registered through the API, so the
numbers are the monitor's, not the executors'. For each: the API call's time (median of 5, from this
process), the time from navigation until the page is drawn (median of 5), and for a run page the DAG's
layout + drawing time inside the page. Checks that drawing the 1,000-task DAG takes at most 12x the
100-task one. Last line: one JSON object.

    .venv/bin/python bench/ui.py [--runs N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from devhost.azurite import start_azurite  # noqa: E402
from devhost.ports import free_port  # noqa: E402
from jobclusters.tracking.keys import day, escape_key, inverted  # noqa: E402
from jobclusters.tracking.models import RunRecord, RunState, RunSummary, TaskRunRecord, Trigger  # noqa: E402
from jobclusters.tracking.table_store import TableRunStore  # noqa: E402
from tests.browser.chromium import chromium_context  # noqa: E402
from tests.e2e.conftest import FUNCTION_KEY, TAGS, AppHost, start_host  # noqa: E402

SIZES = (10, 100, 1000)
MAX_RATIO = 12.0


def layered_job(name: str, tasks: int) -> dict[str, Any]:
    width = max(1, round(tasks**0.5))
    definition = []
    for i in range(tasks):
        layer, slot = divmod(i, width)
        deps = (
            []
            if layer == 0
            else sorted({(layer - 1) * width + slot, (layer - 1) * width + (slot + 1) % width})
        )
        definition.append(
            {
                "key": f"t{i:04d}",
                "depends_on": [{"task_key": f"t{d:04d}"} for d in deps if d < tasks],
                "compute": {"kind": "job_cluster", "job_cluster_key": "pool"},
                "payload": {"kind": "command", "command_line": "true"},
            }
        )
    return {
        "format": "jobclusters/v1",
        "name": name,
        "tags": TAGS,
        "job_clusters": [{"key": "pool", "cluster": {"platform": "batch", "node_type": "Standard_D2s_v3"}}],
        "tasks": definition,
    }


def record_run(store: TableRunStore, job_id: str, run_id: str, created: datetime, tasks: list[str]) -> None:
    end = created + timedelta(seconds=30)
    store.record_run(
        RunRecord(
            run_id=run_id,
            job_id=job_id,
            state=RunState.SUCCESS,
            created_at=created,
            start_time=created,
            end_time=end,
            trigger=Trigger(kind="http", actor="bench"),
        )
    )
    if tasks:
        states = [RunState.SUCCESS, RunState.FAILED, RunState.RUNNING, RunState.PENDING]
        store.record_task_runs(
            run_id,
            [
                TaskRunRecord(
                    run_id=run_id,
                    task_key=key,
                    state=states[i % len(states)],
                    start_time=created,
                    end_time=end,
                )
                for i, key in enumerate(tasks)
            ],
        )


def seed_list(store: TableRunStore, job_id: str, runs: int, newest: datetime) -> None:
    """The list's index rows (what `GET /api/runs` reads), 100 per transaction: recording 10,000 runs one
    by one through `record_run` takes Azurite tens of minutes. The rows are the store's own encoding."""
    by_partition: dict[str, list[dict[str, Any]]] = {}
    states = [RunState.SUCCESS, RunState.FAILED, RunState.SUCCESS, RunState.CANCELED]
    for i in range(runs):
        created = newest - timedelta(seconds=10 * i)
        run_id = f"run-{uuid.uuid4().hex[:24]}"
        summary = RunSummary(
            run_id=run_id,
            job_id=job_id,
            state=states[i % len(states)],
            created_at=created,
            start_time=created,
            end_time=created + timedelta(seconds=30),
            trigger_kind="http",
        )
        rk = f"{inverted(created)}|{escape_key(run_id)}"
        for pk in (f"job|{escape_key(job_id)}", f"day|{day(created)}"):
            entity = store._encode(summary, pk, rk, {"Generation": 0})
            by_partition.setdefault(pk, []).append(entity)
    batches = [rows[i : i + 100] for rows in by_partition.values() for i in range(0, len(rows), 100)]
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda batch: store._index.submit_transaction([("upsert", e) for e in batch]), batches))


def timed(work: Any, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000


def page_time(context: Any, url: str, repeat: int = 5) -> tuple[float, float | None]:
    """Milliseconds from navigation until the page says it is drawn, and the in-page DAG drawing time."""
    totals, draws = [], []
    for _ in range(repeat):
        page = context.new_page()
        page.set_default_timeout(120_000)
        started = time.perf_counter()
        page.goto(url)
        page.wait_for_selector("main[data-ready]")
        totals.append((time.perf_counter() - started) * 1000)
        draw = page.evaluate(
            "document.querySelector('.graph') && document.querySelector('.graph').dataset.drawMs"
        )
        if draw is not None:
            draws.append(float(draw))
        page.close()
    return statistics.median(totals), (statistics.median(draws) if draws else None)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000, help="runs in the list (default 10,000)")
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="bench-ui-") as tmp,
        start_azurite(None, project_dir=ROOT) as azurite,
    ):
        prefix = "bench" + uuid.uuid4().hex[:8]
        host: AppHost = start_host(azurite.connection_string, Path(tmp), prefix, free_port())
        try:
            return measure(host, azurite.connection_string, prefix, args.runs)
        finally:
            host.launcher.stop()


def measure(host: AppHost, connection: str, prefix: str, runs: int) -> int:
    store = TableRunStore(connection, table_prefix=prefix)
    base = host.client.base_url.rstrip("/")
    now = datetime.now(UTC).replace(microsecond=0)
    dag_runs: dict[int, str] = {}
    for size in SIZES:
        job = host.client.register_job(layered_job(f"bench-dag-{size}", size))
        run_id = f"run-{uuid.uuid4().hex[:24]}"
        record_run(
            store, job["job_id"], run_id, now - timedelta(minutes=5), [f"t{i:04d}" for i in range(size)]
        )
        dag_runs[size] = run_id
    started = time.perf_counter()
    seed_list(store, "bench-list", runs, now)
    print(f"recorded {runs} runs in {time.perf_counter() - started:.0f} s", flush=True)

    rows: list[dict[str, Any]] = []
    with chromium_context() as context:
        for size, run_id in dag_runs.items():
            api_ms = timed(lambda r=run_id: host.client.get_run(r), 5)
            total, draw = page_time(context, f"{base}/api/ui/#/runs/{run_id}?key={FUNCTION_KEY}")
            rows.append(
                {"page": f"run, {size} tasks", "api_ms": api_ms, "page_ms": total, "dag_draw_ms": draw}
            )
        query = {
            "limit": 50,
            "from": (now - timedelta(days=7)).isoformat(),
            "to": (now + timedelta(minutes=1)).isoformat(),
        }
        api_ms = timed(lambda: host.client.list_runs(**query), 5)
        total, _ = page_time(context, f"{base}/api/ui/#/runs?range=7d&key={FUNCTION_KEY}")
        rows.append(
            {"page": f"runs list, {runs} runs", "api_ms": api_ms, "page_ms": total, "dag_draw_ms": None}
        )

    print(f"{'page':<24} {'API call ms':>12} {'page drawn ms':>14} {'DAG draw ms':>12}")
    for row in rows:
        shown = "" if row["dag_draw_ms"] is None else f"{row['dag_draw_ms']:.0f}"
        print(f"{row['page']:<24} {row['api_ms']:>12.0f} {row['page_ms']:>14.0f} {shown:>12}")
    small, big = rows[1]["dag_draw_ms"] or 1.0, rows[2]["dag_draw_ms"] or 0.0
    ratio = big / max(small, 1.0)
    ok = ratio <= MAX_RATIO
    verdict = "ok" if ok else "TOO SLOW"
    print(f"1,000-task DAG draws in {ratio:.1f}x the 100-task one (limit {MAX_RATIO:.0f}x): {verdict}")
    print(json.dumps({"rows": rows, "dag_ratio_1000_over_100": round(ratio, 2), "ok": ok}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
