"""A 50-task job whose cluster runs each poll for hours of virtual time keeps every history short."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from jobclusters.execution.polling import CLUSTER_POLL
from jobclusters.services import factory
from jobclusters.services.cluster import (
    ClusterRunRequest,
    LifeCycle,
    ResultState,
    RunHandle,
    RunOutput,
    RunState,
    TaskOutput,
)
from tests.integration.orchestrators.harness import AppEnv, request_for, run_to_end, with_engine

POLLS_UNTIL_DONE = 45


def poll_schedule_seconds(polls: int) -> float:
    total, interval = 0.0, None
    for _ in range(polls):
        interval = CLUSTER_POLL.next_interval(interval)
        total += interval
    return total


MAX_EVENTS = 1_000


class HoursLongClusters:
    """A cluster backend whose runs finish after a fixed number of status calls; with the orchestrator's
    growing poll interval (capped at 5 minutes) that is hours of virtual time per run."""

    backend = "local"

    def __init__(self) -> None:
        self.polls: Counter[str] = Counter()
        self.submits: Counter[str] = Counter()
        self._lock = threading.Lock()

    def submit(self, request: ClusterRunRequest, idempotency_key: str) -> RunHandle:
        with self._lock:
            self.submits[idempotency_key] += 1
        return RunHandle(
            backend="local", run_id=f"hours-{request.tasks[0].task_key}", idempotency_key=idempotency_key
        )

    def get_state(self, handle: RunHandle) -> RunState:
        with self._lock:
            self.polls[handle.run_id] += 1
            done = self.polls[handle.run_id] >= POLLS_UNTIL_DONE
        return RunState(
            run_id=handle.run_id,
            life_cycle=LifeCycle.TERMINATED if done else LifeCycle.RUNNING,
            result=ResultState.SUCCESS if done else None,
            start_time=datetime.now(UTC),
        )

    def cancel(self, handle: RunHandle) -> None:
        raise AssertionError("nothing is cancelled in this scenario")

    def get_output(self, handle: RunHandle) -> RunOutput:
        return RunOutput(run_id=handle.run_id, tasks=[TaskOutput(task_key=handle.run_id, logs="done")])


def test_fifty_cluster_tasks_polling_for_hours_keep_every_history_under_a_thousand_events(
    app_env: AppEnv,
) -> None:
    clusters = HoursLongClusters()
    factory.override("cluster:local", clusters)
    chains, depth = 10, 5
    tasks = []
    for c in range(chains):
        for d in range(depth):
            key = f"t{c}_{d}"
            task: dict[str, Any] = {"key": key, "payload": {"kind": "spark_python", "python_file": "job.py"}}
            if d:
                task["depends_on"] = [{"task_key": f"t{c}_{d - 1}"}]
            tasks.append(task)
    request = request_for({"name": "fifty", "tasks": tasks})
    peaks: Counter[str] = Counter()
    finals: dict[str, int] = {}
    virtual_span: list[float] = []

    async def scenario(engine: Any) -> dict[str, Any]:
        original = engine._continue_as_new

        def counting(rt: Any, now: Any, history_add: list[Any], *rest: Any) -> None:
            size = len(rt.history) + len(history_add)
            peaks[rt.row.instance_id] = max(peaks[rt.row.instance_id], size)
            original(rt, now, history_add, *rest)

        engine._continue_as_new = counting
        started = engine.clock.now()
        output = await run_to_end(engine, request, timeout=240)
        virtual_span.append((engine.clock.now() - started).total_seconds())
        for row in engine.store.query_instances("", [], 10_000):
            finals[row.instance_id] = len(engine.store.load_history(row.instance_id))
        return output

    output = with_engine(app_env, scenario)
    assert output["result"] == "SUCCESS"
    assert len(clusters.polls) == 50 and all(n == POLLS_UNTIL_DONE for n in clusters.polls.values())
    assert all(n == 1 for n in clusters.submits.values())
    one_task = poll_schedule_seconds(POLLS_UNTIL_DONE)
    assert one_task > 3 * 3600, "each cluster run polls for hours of virtual time"
    # chains run side by side: the run lasts one chain, not the sum of all chains
    assert depth * one_task <= virtual_span[0] < depth * one_task + 900
    assert peaks, "long polls continue as new"
    assert len(finals) == 1 + 50 + 50
    worst = max([*peaks.values(), *finals.values()])
    assert worst < MAX_EVENTS, (worst, sorted(finals.items(), key=lambda kv: -kv[1])[:3])
