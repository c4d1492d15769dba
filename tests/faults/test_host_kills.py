"""Issue 13, the fault suite: SIGKILL the host at seeded random points of in-flight runs, several times,
and count against ground truth: no run lost, no run failed whose work succeeded, no completed command run
twice, no pool left, no tracking row disagreeing with the orchestration."""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from jobclusters.tracking.table_store import TableRunStore
from tests.faults.harness import Host, batch_job, count, new_prefix

pytestmark = pytest.mark.integration

SEED = 1313
ROUNDS = 3
RUNS_PER_ROUND = 3
TASKS = 2


def test_sigkills_of_the_host_at_random_points_lose_fail_and_repeat_nothing(
    storage_connection: str, tmp_path: Path
) -> None:
    rng = random.Random(SEED)
    ground = tmp_path / "ground.txt"
    host = Host(storage_connection, tmp_path / "state", new_prefix())
    host.start()
    runs: dict[str, int] = {}
    try:
        sleeps = [round(rng.uniform(0.3, 1.5), 2) for _ in range(TASKS)]
        host.client.register_job(batch_job("faults", ground, sleeps), job_id="faults")
        for round_no in range(ROUNDS):
            for i in range(RUNS_PER_ROUND):
                started = host.client.start_job("faults", idempotency_key=f"kill-{round_no}-{i}")
                runs[started["run_id"]] = TASKS
            time.sleep(rng.uniform(0.2, 3.0))  # a random point of the runs in flight
            host.kill()
            host.start()
        views = host.wait_done(list(runs), timeout=180)
        counts = count(host, runs, views, ground, TableRunStore(storage_connection, table_prefix=host.prefix))
    finally:
        host.stop()
    print(f"host kills: {host.kills}, runs: {counts.runs}, counts: {counts}")
    failed = {
        r: (v.get("message"), {k: t.get("message") for k, t in v["tasks"].items()})
        for r, v in views.items()
        if v.get("result") != "SUCCESS"
    }
    assert not failed, failed
    assert host.kills == ROUNDS and counts.runs == ROUNDS * RUNS_PER_ROUND
    assert counts.zero_faults() == dict.fromkeys(counts.zero_faults(), 0)
