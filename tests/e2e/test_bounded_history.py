"""A job far larger than one history holds runs through devhost with every instance's history bounded
(`run_job` continues as new with its walk's state), and a cancel sent after it did still stops the run."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import AppHost, batch_job
from tests.eventually import eventually
from tests.history_peak import HistoryPeak

pytestmark = pytest.mark.integration

HISTORY_LIMIT = 1000


def _fan(name: str, size: int, command: str) -> dict[str, Any]:
    """`size` independent local Batch commands (a chain of them would take minutes: each task of a chain
    pays the Batch polling on its own)."""
    job = batch_job(name, {f"t{i:03d}": command for i in range(size)})
    for task in job["tasks"]:
        task.pop("depends_on", None)
    return job


def test_150_tasks_succeed_with_every_history_under_the_limit(app_host: AppHost) -> None:
    peak = HistoryPeak(app_host.devhost_state)
    peak.install()
    client = app_host.client
    job_id = client.register_job(_fan("fan-150", 150, "true"))["job_id"]

    run_id = client.start_job(job_id)["run_id"]
    view = app_host.wait_run_done(run_id, timeout=600)

    assert view["result"] == "SUCCESS"
    assert len(view["tasks"]) == 150
    assert {t["state"] for t in view["tasks"].values()} == {"SUCCESS"}
    assert peak.executions(run_id) > 1, "150 tasks do not fit one execution's budget"
    instance, events = peak.largest()
    assert events < HISTORY_LIMIT, f"{instance} reached {events} history events"


def test_a_cancel_after_the_walk_continued_as_new_stops_the_run(app_host: AppHost) -> None:
    peak = HistoryPeak(app_host.devhost_state)
    peak.install()
    client = app_host.client
    job_id = client.register_job(_fan("fan-150-slow", 150, "sleep 2"))["job_id"]
    run_id = client.start_job(job_id)["run_id"]

    eventually(lambda: peak.executions(run_id) >= 2, timeout=300, interval=0.2, what="a second execution")
    client.cancel_run(run_id, reason="enough")
    view = app_host.wait_run_done(run_id, timeout=120)

    assert view["result"] == "CANCELED"
    states = [t["state"] for t in view["tasks"].values()]
    assert 0 < states.count("SUCCESS") < 150
    assert "PENDING" not in states and "RUNNING" not in states
