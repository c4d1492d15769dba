"""Issue 13, the fault suite: kill the storage emulator while runs are in flight and start it again on
the same ports and on-disk state, more than once. The outages are shorter than the infrastructure retry
bound, so every run must still succeed, with the same counts as after host kills.

The emulator is stopped with SIGTERM: Azurite (LokiJS) saves to disk only every few seconds, so after a
SIGKILL it comes back without what it acknowledged since, even tables and containers, which Azure
storage never does. Writes lost after their acknowledgement are covered where they can be told apart:
final states are read back (tests/integration/tracking/test_final_state_repair.py).
"""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path

import pytest

from devhost.azurite import AzuriteProcess, start_azurite
from devhost.ports import free_port
from jobclusters.tracking.table_store import TableRunStore
from tests.faults.harness import PROJECT_DIR, Host, batch_job, count, new_prefix

pytestmark = pytest.mark.integration

SEED = 1314
OUTAGE_SECONDS = (6.0, 12.0)
RUNS_PER_OUTAGE = 3
TASKS = 2


def _kill(azurite: AzuriteProcess) -> None:
    assert azurite.process is not None
    os.killpg(azurite.process.pid, signal.SIGTERM)
    azurite.process.wait(timeout=10)


def test_storage_outages_mid_run_fail_lose_and_repeat_nothing(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    ground, location = tmp_path / "ground.txt", tmp_path / "azurite"
    ports = (free_port(), free_port(), free_port())
    azurite = start_azurite(location, ports=ports, project_dir=PROJECT_DIR)
    host = Host(azurite.connection_string, tmp_path / "state", new_prefix())
    runs: dict[str, int] = {}
    outages = 0
    try:
        host.start()
        sleeps = [round(rng.uniform(1.0, 2.0), 2) for _ in range(TASKS)]
        host.client.register_job(batch_job("outages", ground, sleeps), job_id="outages")
        for n, seconds in enumerate(OUTAGE_SECONDS):
            for i in range(RUNS_PER_OUTAGE):
                started = host.client.start_job("outages", idempotency_key=f"outage-{n}-{i}")
                runs[started["run_id"]] = TASKS
            time.sleep(rng.uniform(0.5, 2.0))
            _kill(azurite)
            outages += 1
            time.sleep(seconds)
            azurite = start_azurite(location, ports=ports, project_dir=PROJECT_DIR)
        views = host.wait_done(list(runs), timeout=240)
        counts = count(
            host, runs, views, ground, TableRunStore(azurite.connection_string, table_prefix=host.prefix)
        )
    finally:
        host.stop()
        azurite.stop()
    print(f"storage outages: {outages} ({', '.join(f'{s:.0f} s' for s in OUTAGE_SECONDS)}), counts: {counts}")
    failed = {r: v.get("message") for r, v in views.items() if v.get("result") != "SUCCESS"}
    assert not failed, failed
    assert outages == len(OUTAGE_SECONDS) and counts.runs == len(OUTAGE_SECONDS) * RUNS_PER_OUTAGE
    assert counts.zero_faults() == dict.fromkeys(counts.zero_faults(), 0)
