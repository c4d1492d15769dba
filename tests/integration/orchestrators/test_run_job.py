"""run_job end to end on the in-process engine: local Batch, local cluster, Azurite tables."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from jobclusters.execution.ids import task_instance_id
from jobclusters.run_request import CANCEL_EVENT, RepairInfo
from jobclusters.services import factory
from jobclusters.services.batch import BatchServiceError, TaskSpec
from jobclusters.services.cluster import RunHandle
from jobclusters.spec.dag import repair_set
from jobclusters.spec.model import Job, TaskState
from tests.eventually import eventually, eventually_async
from tests.integration.orchestrators.harness import (
    AppEnv,
    command,
    request_for,
    run_to_end,
    settle_all,
    start_run,
    with_engine,
)


def test_a_chain_of_tasks_succeeds_and_every_task_has_a_row_in_table_storage(
    app_env: AppEnv, tmp_path: Path
) -> None:
    job = {
        "name": "chain",
        "tasks": [
            command("extract", "print(1)"),
            command("transform", "print(2)", depends_on=[{"task_key": "extract"}]),
            command("load", "print(3)", depends_on=[{"task_key": "transform"}]),
        ],
    }
    request = request_for(job)

    async def scenario(engine: Any) -> dict[str, Any]:
        return await run_to_end(engine, request)

    output = with_engine(app_env, scenario)
    assert output["result"] == "SUCCESS"
    assert {k: t["state"] for k, t in output["tasks"].items()} == dict.fromkeys(
        ["extract", "transform", "load"], "SUCCESS"
    )
    run, tasks = app_env.run_store().get_run_with_tasks(request.run_id)
    assert run is not None and run.state.value == "SUCCESS"
    assert sorted((t.task_key, t.state.value) for t in tasks) == [
        ("extract", "SUCCESS"),
        ("load", "SUCCESS"),
        ("transform", "SUCCESS"),
    ]
    starts = {t.task_key: t.start_time for t in tasks}
    assert None not in starts.values()
    assert sorted(starts, key=lambda k: str(starts[k])) == ["extract", "transform", "load"]


def test_a_failing_task_is_retried_then_the_failure_handler_runs_and_the_run_succeeds_with_failures(
    app_env: AppEnv,
) -> None:
    job = {
        "name": "with-handler",
        "tasks": [
            command(
                "flaky",
                "import sys; sys.exit(3)",
                retry={"max_retries": 2, "min_retry_interval_millis": 60_000},
            ),
            command(
                "on_failure",
                "print('cleanup')",
                depends_on=[{"task_key": "flaky"}],
                run_if="AT_LEAST_ONE_FAILED",
            ),
        ],
    }
    request = request_for(job)

    child_status: list[Any] = []

    async def scenario(engine: Any) -> dict[str, Any]:
        output = await run_to_end(engine, request)
        child = await engine.get_instance(task_instance_id(request.run_id, "flaky", 0))
        child_status.append(json.loads(child.custom_status or "null"))
        return output

    output = with_engine(app_env, scenario)
    assert child_status[0]["attempts"] == 3 and child_status[0]["attempt_id"].endswith(":flaky:r0:a2")
    assert output["result"] == "SUCCESS_WITH_FAILURES"
    assert output["tasks"]["flaky"]["state"] == "FAILED"
    assert output["tasks"]["flaky"]["attempts"] == 3
    assert "exit code 3" in output["tasks"]["flaky"]["message"]
    assert output["tasks"]["on_failure"]["state"] == "SUCCESS"
    _, rows = app_env.run_store().get_run_with_tasks(request.run_id)
    attempts = sorted(
        (r.attempt, r.state.value, r.start_time, r.end_time) for r in rows if r.task_key == "flaky"
    )
    assert [(a, s) for a, s, _, _ in attempts] == [(1, "FAILED"), (2, "FAILED"), (3, "FAILED")]
    for (_, _, _, ended), (_, _, started, _) in zip(attempts, attempts[1:], strict=False):
        assert ended is not None and started is not None
        assert (started - ended).total_seconds() >= 60


def test_a_task_that_outlives_its_timeout_is_timed_out_and_its_remote_run_cancelled(
    app_env: AppEnv, tmp_path: Path
) -> None:
    script = tmp_path / "slow.py"
    marker = tmp_path / "finished"
    script.write_text(
        f"import time, pathlib\ntime.sleep(20)\npathlib.Path({str(marker)!r}).write_text('x')\n"
    )
    job = {
        "name": "slow-spark",
        "tasks": [
            {
                "key": "slow",
                "payload": {"kind": "spark_python", "python_file": "slow.py"},
                "timeout_seconds": 600,
            },
            command("after", "print(1)", depends_on=[{"task_key": "slow"}]),
        ],
    }
    request = request_for(job, base_dir=tmp_path)

    async def scenario(engine: Any) -> dict[str, Any]:
        return await run_to_end(engine, request)

    output = with_engine(app_env, scenario)
    assert output["result"] == "FAILED"
    assert output["tasks"]["slow"]["state"] == "TIMEDOUT"
    assert "cancelled" in output["tasks"]["slow"]["message"]
    assert output["tasks"]["after"]["state"] == "UPSTREAM_FAILED"
    handles = factory.get_control_store().handles(request.run_id)
    assert len(handles) == 1
    _, kind, handle = handles[0]
    service = factory.get_cluster_service("local")

    def ended() -> Any:
        state = service.get_state(RunHandle.model_validate(handle))
        return state if state.terminal else None

    state = eventually(ended, timeout=15, interval=0.1, what="the cluster run to end")
    assert kind == "cluster"
    assert state.terminal and state.result is not None and state.result.value == "CANCELED"
    assert not marker.exists()


async def _task_state(engine: Any, run_id: str, key: str) -> str | None:
    instance = await engine.get_instance(run_id)
    status = json.loads(instance.custom_status or "null") if instance else None
    return status["tasks"][key]["state"] if status else None


def test_the_cancel_event_cancels_running_tasks_remotely_and_their_dependents_upstream(
    app_env: AppEnv,
) -> None:
    job = {
        "name": "cancel-me",
        "tasks": [
            command("long", "import time; time.sleep(60)"),
            command("after", "print(1)", depends_on=[{"task_key": "long"}]),
        ],
    }
    request = request_for(job)

    async def scenario(engine: Any) -> dict[str, Any]:
        await start_run(engine, request)

        async def long_is_running() -> bool:
            return await _task_state(engine, request.run_id, "long") == "RUNNING"

        await eventually_async(long_is_running, timeout=30, what="long to run")
        await asyncio.sleep(0.5)
        await engine.raise_event(request.run_id, CANCEL_EVENT, json.dumps("stop it"))
        state = await engine.wait_for_terminal(request.run_id, timeout=30)
        await settle_all(engine)
        return json.loads(state.output or "null")

    output = with_engine(app_env, scenario)
    assert output["result"] == "CANCELED"
    assert output["tasks"]["long"]["state"] == "CANCELED"
    assert "stop it" in output["tasks"]["long"]["message"]
    assert output["tasks"]["after"]["state"] == "UPSTREAM_CANCELED"
    handles = factory.get_control_store().handles(request.run_id)
    assert [kind for _, kind, _ in handles] == ["batch"]
    counts = factory.get_batch_service().get_task_counts(handles[0][2]["job_id"])
    assert counts.running == 0 and counts.active == 0
    run = app_env.run_store().get_run(request.run_id)
    assert run is not None and run.state.value == "CANCELED"


def test_a_repair_reruns_only_the_failed_task_and_its_dependents(app_env: AppEnv, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    counter = tmp_path / "count"
    job = Job.model_validate(
        {
            "name": "repairable",
            "tasks": [
                command("first", f"open({str(counter)!r}, 'a').write('x')"),
                command(
                    "second",
                    f"import os, sys; sys.exit(0 if os.path.exists({str(gate)!r}) else 1)",
                    depends_on=[{"task_key": "first"}],
                ),
                command("third", "print(3)", depends_on=[{"task_key": "second"}]),
            ],
        }
    )
    original = request_for(job)

    async def first_run(engine: Any) -> dict[str, Any]:
        return await run_to_end(engine, original)

    before = with_engine(app_env, first_run)
    assert before["result"] == "FAILED"
    states = {k: TaskState(t["state"]) for k, t in before["tasks"].items()}
    assert states == {
        "first": TaskState.SUCCESS,
        "second": TaskState.FAILED,
        "third": TaskState.UPSTREAM_FAILED,
    }

    gate.write_text("open")
    rerun = repair_set(job, states, None)
    repair = request_for(
        job,
        repair=RepairInfo(of_run_id=original.run_id, number=1, rerun_tasks=rerun, previous_states=states),
    )

    async def repair_run(engine: Any) -> dict[str, Any]:
        return await run_to_end(engine, repair)

    after = with_engine(app_env, repair_run)
    assert rerun == ["second", "third"]
    assert after["result"] == "SUCCESS"
    assert {k: t["state"] for k, t in after["tasks"].items()} == dict.fromkeys(
        ["first", "second", "third"], "SUCCESS"
    )
    assert counter.read_text() == "x"
    run, rows = app_env.run_store().get_run_with_tasks(original.run_id)
    assert run is not None and run.state.value == "SUCCESS" and run.generation == 1
    assert {(r.task_key, r.generation, r.state.value) for r in rows} >= {
        ("first", 0, "SUCCESS"),
        ("second", 1, "SUCCESS"),
        ("third", 1, "SUCCESS"),
    }


def test_an_adf_pipeline_follows_dependency_conditions(app_env: AppEnv) -> None:
    job = {
        "name": "adf-style",
        "engine_rules": "adf",
        "tasks": [
            command("Copy", "import sys; sys.exit(1)"),
            command(
                "OnFailure", "print('alert')", depends_on=[{"task_key": "Copy", "conditions": ["Failed"]}]
            ),
            command(
                "OnSuccess", "print('next')", depends_on=[{"task_key": "Copy", "conditions": ["Succeeded"]}]
            ),
            command("Always", "print('log')", depends_on=[{"task_key": "Copy", "conditions": ["Completed"]}]),
        ],
    }
    request = request_for(job)

    async def scenario(engine: Any) -> dict[str, Any]:
        return await run_to_end(engine, request)

    output = with_engine(app_env, scenario)
    states = {k: t["state"] for k, t in output["tasks"].items()}
    assert states == {"Copy": "FAILED", "OnFailure": "SUCCESS", "OnSuccess": "SKIPPED", "Always": "SUCCESS"}
    assert output["result"] == "FAILED"
    _, rows = app_env.run_store().get_run_with_tasks(request.run_id)
    assert {r.task_key: r.state.value for r in rows}["OnSuccess"] == "SKIPPED"


def test_a_batch_task_past_its_timeout_is_retried_on_timeout_and_its_jobs_are_terminated(
    app_env: AppEnv,
) -> None:
    job = {
        "name": "slow-batch",
        "tasks": [
            command(
                "slow",
                "import time; time.sleep(60)",
                timeout_seconds=120,
                retry={"max_retries": 1, "retry_on_timeout": True},
            )
        ],
    }
    request = request_for(job)

    async def scenario(engine: Any) -> dict[str, Any]:
        return await run_to_end(engine, request)

    output = with_engine(app_env, scenario)
    assert output["result"] == "TIMEDOUT"
    assert (output["tasks"]["slow"]["state"], output["tasks"]["slow"]["attempts"]) == ("TIMEDOUT", 2)
    handles = factory.get_control_store().handles(request.run_id)
    assert len(handles) == 2
    service = factory.get_batch_service()
    for _, _, handle in handles:
        counts = service.get_task_counts(handle["job_id"])
        assert counts.running == 0 and counts.succeeded == 0
        with pytest.raises(BatchServiceError) as refused:
            service.add_tasks(handle["job_id"], [TaskSpec(id="late", command_line="echo late")])
        assert refused.value.code == "JobCompleted", "the timed-out attempt's job was terminated"


def test_task_values_of_a_cluster_task_feed_the_next_task_and_its_logs_are_kept(
    app_env: AppEnv, tmp_path: Path
) -> None:
    (tmp_path / "count.py").write_text(
        "import sys\n"
        "print('counted', sys.argv[1])\n"
        "dbutils.jobs.taskValues.set(key='rows', value=int(sys.argv[1]))\n"
    )
    out = tmp_path / "seen"
    job = {
        "name": "values",
        "parameters": [{"name": "n", "default": "41"}],
        "tasks": [
            {
                "key": "count",
                "payload": {
                    "kind": "spark_python",
                    "python_file": "count.py",
                    "parameters": ["{{job.parameters.n}}"],
                },
            },
            command(
                "report",
                f"open({str(out)!r}, 'w').write('{{{{tasks.count.values.rows}}}}')",
                depends_on=[{"task_key": "count"}],
            ),
        ],
    }
    request = request_for(job, base_dir=tmp_path)

    async def scenario(engine: Any) -> dict[str, Any]:
        return await run_to_end(engine, request)

    output = with_engine(app_env, scenario)
    assert output["result"] == "SUCCESS", output["tasks"]["count"]["message"]
    assert out.read_text() == "41"
    log_ref = output["tasks"]["count"]["log_ref"]
    assert log_ref.startswith(factory.get_blob_refs().account_url + "/jobclusters-runs/logs/")
    assert "counted 41" in factory.get_blob_refs().get_text(log_ref)
    _, rows = app_env.run_store().get_run_with_tasks(request.run_id)
    row = next(r for r in rows if r.task_key == "count")
    assert row.links.logs == {"driver": log_ref}
    assert row.output == {"rows": 41}
    assert row.compute is not None and row.compute.kind == "local"
