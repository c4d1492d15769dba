"""run_job rules beyond the happy path: notifications, run events, conditions, concurrency and queueing."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from jobclusters.run_request import CANCEL_EVENT, RepairInfo, RunProgress
from jobclusters.spec.model import Job, RunResult, TaskState
from localbus.store import LocalServiceBus
from tests.eventually import eventually_async
from tests.integration.orchestrators.harness import (
    AppEnv,
    command,
    request_for,
    run_to_end,
    settle_all,
    start_run,
    with_engine,
)


class Webhook:
    """A loopback receiver that fails its first request with a 503, then accepts."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.requests = 0
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                hook.requests += 1
                if hook.requests == 1:
                    self.send_response(503)
                else:
                    hook.bodies.append(body)
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    yield hook
    hook.close()


def test_webhooks_are_retried_and_run_events_reach_the_topic(app_env: AppEnv, webhook: Webhook) -> None:
    bus = LocalServiceBus(app_env.state_dir / "devhost")
    bus.create_subscription("job-run-events", "audit")
    target = [{"kind": "webhook", "address": webhook.url}]
    job = {
        "name": "notified",
        "tasks": [command("work", "import time; time.sleep(1.5)")],
        "notifications": {
            "on_start": target,
            "on_success": target,
            "on_duration_warning_threshold_exceeded": target,
        },
        "health": [{"metric": "RUN_DURATION_SECONDS", "op": "GREATER_THAN", "value": 60}],
    }
    request = request_for(job)

    async def scenario(engine: Any) -> dict[str, Any]:
        return await run_to_end(engine, request)

    output = with_engine(app_env, scenario)
    assert output["result"] == "SUCCESS"
    assert webhook.requests == 4, "the first POST answered 503 and was retried"
    assert [b["event"] for b in webhook.bodies] == ["start", "duration_exceeded", "success"]
    assert {b["event_id"] for b in webhook.bodies} == {
        f"{request.run_id}:{e}" for e in ("start", "duration_exceeded", "success")
    }
    events = [json.loads(m.body_text()) for m in bus.peek("job-run-events", "audit")]
    assert [e["event"] for e in events] == ["start", "duration_exceeded", "success"]
    assert events[-1]["result"] == "SUCCESS" and events[-1]["tasks"] == {"work": "SUCCESS"}


def test_a_condition_task_decides_which_branch_runs(app_env: AppEnv) -> None:
    job = {
        "name": "branches",
        "parameters": [{"name": "env", "default": "prod"}],
        "tasks": [
            {
                "key": "is_prod",
                "payload": {
                    "kind": "condition",
                    "op": "EQUAL_TO",
                    "left": "{{job.parameters.env}}",
                    "right": "prod",
                },
            },
            command("deploy", "print('deploy')", depends_on=[{"task_key": "is_prod", "outcome": "true"}]),
            command("dry_run", "print('dry')", depends_on=[{"task_key": "is_prod", "outcome": "false"}]),
        ],
    }

    def run(parameters: dict[str, str]) -> dict[str, Any]:
        request = request_for(job, parameters=parameters)

        async def scenario(engine: Any) -> dict[str, Any]:
            return await run_to_end(engine, request)

        return with_engine(app_env, scenario)

    prod = run({})
    assert {k: (t["state"], t["outcome"]) for k, t in prod["tasks"].items()} == {
        "is_prod": ("SUCCESS", "true"),
        "deploy": ("SUCCESS", None),
        "dry_run": ("EXCLUDED", None),
    }
    test = run({"env": "test"})
    assert test["tasks"]["is_prod"]["outcome"] == "false"
    assert (test["tasks"]["deploy"]["state"], test["tasks"]["dry_run"]["state"]) == ("EXCLUDED", "SUCCESS")
    assert test["result"] == "SUCCESS"


def _two_runs(app_env: AppEnv, queue: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    a, b = _two_run_states(app_env, queue)
    return json.loads(a.output or "null"), json.loads(b.output or "null")


def _two_run_states(app_env: AppEnv, queue: bool) -> tuple[Any, Any]:
    job = {
        "name": f"single-{queue}",
        "max_concurrent_runs": 1,
        "queue": queue,
        "tasks": [command("work", "import time; time.sleep(1)")],
    }
    first, second = request_for(job, key="a"), request_for(job, key="b")

    async def scenario(engine: Any) -> tuple[Any, Any]:
        await start_run(engine, first)
        await start_run(engine, second)
        a = await engine.wait_for_terminal(first.run_id, timeout=60)
        b = await engine.wait_for_terminal(second.run_id, timeout=60)
        await settle_all(engine)
        return a, b

    return with_engine(app_env, scenario)


def test_a_run_beyond_max_concurrent_runs_is_skipped_without_a_queue(app_env: AppEnv) -> None:
    states = _two_run_states(app_env, queue=False)
    skipped_state, ran_state = sorted(states, key=lambda st: json.loads(st.output)["result"])
    skipped, ran = json.loads(skipped_state.output), json.loads(ran_state.output)
    assert (skipped["result"], ran["result"]) == ("SKIPPED", "SUCCESS")
    assert "1 run(s) of this job are active" in skipped["message"]
    assert ran["run_id"] in skipped["message"]
    record = app_env.run_store().get_run(skipped["run_id"])
    assert record is not None and record.state.value == "SKIPPED"
    progress = RunProgress.model_validate(json.loads(skipped_state.custom_status))
    assert progress.result == RunResult.SKIPPED
    assert {key: task.state for key, task in progress.tasks.items()} == {"work": TaskState.SKIPPED}


def test_a_queued_run_waits_for_the_slot_and_then_runs(app_env: AppEnv) -> None:
    first, second = sorted(_two_runs(app_env, queue=True), key=lambda out: str(out["start"]))
    assert first["result"] == "SUCCESS" and second["result"] == "SUCCESS"
    assert second["start"] >= first["end"]


def test_a_repair_without_kept_condition_outcomes_decides_the_condition_again(
    app_env: AppEnv, tmp_path: Any
) -> None:
    gate = tmp_path / "gate"
    job = Job.model_validate(
        {
            "name": "branch-repair",
            "tasks": [
                {
                    "key": "check",
                    "payload": {"kind": "condition", "op": "GREATER_THAN", "left": "3", "right": "2"},
                },
                command(
                    "deploy",
                    f"import os, sys; sys.exit(0 if os.path.exists({str(gate)!r}) else 1)",
                    depends_on=[{"task_key": "check", "outcome": "true"}],
                ),
                command("skip", "print(1)", depends_on=[{"task_key": "check", "outcome": "false"}]),
            ],
        }
    )
    first = request_for(job)

    def run(request: Any) -> dict[str, Any]:
        async def scenario(engine: Any) -> dict[str, Any]:
            return await run_to_end(engine, request)

        return with_engine(app_env, scenario)

    before = run(first)
    states = {k: TaskState(t["state"]) for k, t in before["tasks"].items()}
    assert states == {"check": TaskState.SUCCESS, "deploy": TaskState.FAILED, "skip": TaskState.EXCLUDED}
    assert before["tasks"]["check"]["outcome"] == "true"
    gate.write_text("open")
    repair = RepairInfo(of_run_id=first.run_id, number=1, rerun_tasks=["deploy"], previous_states=states)
    after = run(request_for(job, repair=repair))
    assert after["result"] == "SUCCESS"
    assert {k: (t["state"], t["outcome"]) for k, t in after["tasks"].items()} == {
        "check": ("SUCCESS", "true"),
        "deploy": ("SUCCESS", None),
        "skip": ("EXCLUDED", None),
    }


def test_a_queued_run_can_be_canceled_before_it_starts(app_env: AppEnv) -> None:
    job = {
        "name": "queued-cancel",
        "max_concurrent_runs": 1,
        "queue": True,
        "tasks": [command("work", "import time; time.sleep(1)")],
    }
    first, second = request_for(job, key="a"), request_for(job, key="b")

    async def scenario(engine: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        await start_run(engine, first)
        await eventually_async(lambda: _work_is(engine, first.run_id, "RUNNING"), timeout=30)
        await start_run(engine, second)
        await eventually_async(lambda: _work_is(engine, second.run_id, "QUEUED"), timeout=30)
        await engine.raise_event(second.run_id, CANCEL_EVENT, json.dumps("not today"))
        b = await engine.wait_for_terminal(second.run_id, timeout=60)
        a = await engine.wait_for_terminal(first.run_id, timeout=60)
        await settle_all(engine)
        return json.loads(a.output or "null"), json.loads(b.output or "null")

    ran, canceled = with_engine(app_env, scenario)
    assert ran["result"] == "SUCCESS"
    assert canceled["result"] == "CANCELED" and "not today" in canceled["message"]
    assert canceled["tasks"]["work"]["state"] == "CANCELED"
    record = app_env.run_store().get_run(second.run_id)
    assert record is not None and record.state.value == "CANCELED"


async def _work_is(engine: Any, run_id: str, state: str) -> bool:
    instance = await engine.get_instance(run_id)
    status = json.loads(instance.custom_status or "null") if instance else None
    return bool(status and status["tasks"]["work"]["state"] == state)
