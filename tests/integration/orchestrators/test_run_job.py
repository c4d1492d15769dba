"""run_job end to end on the in-process engine: local Batch, local cluster, Azurite tables."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from tests.integration.orchestrators.harness import AppEnv, request_for, run_to_end, with_engine

PY = sys.executable


def command(key: str, code: str, **task: Any) -> dict[str, Any]:
    return {"key": key, "payload": {"kind": "command", "command_line": f'{PY} -c "{code}"'}, **task}


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
