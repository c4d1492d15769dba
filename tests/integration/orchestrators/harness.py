"""Run the real app's orchestrators on devhost's in-process engine (virtual time) with local services."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from devhost.app_loader import LoadedApp, load_app
from devhost.engine import DurableEngine
from devhost.engine_api import InstanceQuery, InstanceState
from jobclusters.run_admission import signed_input
from jobclusters.run_request import RUN_JOB_ORCHESTRATOR, RunRequest, TriggerInfo, derive_run_id
from jobclusters.run_signing_key import run_signing_key
from jobclusters.services import factory
from jobclusters.services.local_batch import shared_local_batch
from jobclusters.settings import get_settings
from jobclusters.spec.model import Job
from jobclusters.tracking.table_store import TableRunStore

PROJECT_DIR = Path(__file__).resolve().parents[3]
T = TypeVar("T")


@dataclass
class AppEnv:
    app: LoadedApp
    state_dir: Path
    table_prefix: str
    connection: str

    def run_store(self) -> TableRunStore:
        return TableRunStore(self.connection, table_prefix=self.table_prefix)


def open_app(tmp_path: Path, connection: str, **extra: str) -> AppEnv:
    prefix = "t" + uuid.uuid4().hex[:10]
    state = tmp_path / "state"
    overrides = {
        "AzureWebJobsStorage": connection,
        "JOBCLUSTERS_MODE": "local",
        "JOBCLUSTERS_STATE_DIR": str(state),
        "JOBCLUSTERS_TABLE_PREFIX": prefix,
        "LOCALBUS_STATE_DIR": str(state / "devhost"),
        **extra,
    }
    factory.reset()
    app = load_app(PROJECT_DIR, settings_overrides=overrides)
    return AppEnv(app=app, state_dir=state, table_prefix=prefix, connection=connection)


def request_for(
    job: Job | dict[str, Any], *, key: str = "", base_dir: Path | None = None, **fields: Any
) -> RunRequest:
    model = job if isinstance(job, Job) else Job.model_validate(job)
    return RunRequest(
        run_id=derive_run_id(model.name, key or uuid.uuid4().hex),
        job_id=model.name,
        job=model,
        trigger=TriggerInfo(kind="cli"),
        base_dir=str(base_dir) if base_dir else None,
        **fields,
    )


def with_engine(env: AppEnv, scenario: Callable[[DurableEngine], Awaitable[T]]) -> T:
    async def main() -> T:
        engine = DurableEngine(env.app, env.state_dir / "engine.sqlite3", virtual_time=True)
        # Batch tasks report their own times: on the engine's clock, they line up with its timers.
        shared_local_batch(
            env.state_dir, storage_connection=env.connection, clock=lambda: engine.clock.now().timestamp()
        )
        await engine.start()
        try:
            return await scenario(engine)
        finally:
            await engine.stop()

    return asyncio.run(main())


async def start_run(engine: DurableEngine, request: RunRequest) -> str:
    """Signed like a trigger's start (`run_job` refuses unsigned requests)."""
    payload = signed_input(request, run_signing_key(get_settings()))
    return await engine.start_new(
        RUN_JOB_ORCHESTRATOR, instance_id=request.run_id, input_json=json.dumps(payload)
    )


async def run_to_end(engine: DurableEngine, request: RunRequest, timeout: float = 60) -> dict[str, Any]:
    await start_run(engine, request)
    state = await engine.wait_for_terminal(request.run_id, timeout=timeout)
    assert state.runtime_status.value == "Completed", (state.runtime_status, state.output)
    await settle_all(engine, timeout=timeout)
    return json.loads(state.output or "null")


async def settle_all(engine: DurableEngine, timeout: float = 30) -> list[InstanceState]:
    """Wait until every instance (children included) is terminal."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        states, _ = await engine.query_instances(InstanceQuery(page_size=10_000))
        if all(s.runtime_status.value in ("Completed", "Failed", "Terminated") for s in states):
            return states
        if loop.time() > deadline:
            raise AssertionError(f"instances still active: {[s.instance_id for s in states]}")
        await asyncio.sleep(0.05)


def close_services(env: AppEnv) -> None:
    factory.reset()
    factory.close_local_batch(env.state_dir)


def restore_environ(saved: dict[str, str]) -> None:
    for key in list(os.environ):
        if key not in saved:
            del os.environ[key]
    os.environ.update(saved)
    factory.reset()


def command(key: str, code: str, **task: Any) -> dict[str, Any]:
    """A native task that runs `python -c code` as its Batch command line."""
    line = f'{sys.executable} -c "{code}"'
    return {"key": key, "payload": {"kind": "command", "command_line": line}, **task}
