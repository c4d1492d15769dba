"""Batching, extended sessions, check mode, non-determinism detection, persistence across restarts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from devhost.app_loader import LoadedApp
from devhost.engine import DurableEngine
from devhost.engine_api import InstanceState, RuntimeStatus
from tests.conformance.helpers import (
    output,
    run_to_end,
    run_with_engine,
    scheduled,
    wait_for_custom_status,
)
from tests.eventually import eventually_async

SCENARIOS: list[tuple[str, Any]] = [
    ("chaining", {"n": 5}),
    ("FanOut", 12),
    ("parent", None),
    ("retry_exhausted", None),
    ("caught_failure", None),
    ("custom_status", None),
    ("monitor", None),
]


def _run_all(app: LoadedApp, prefix: str, **options: Any) -> tuple[dict[str, Any], dict[str, list[Any]], int]:
    async def scenario(engine: DurableEngine) -> tuple[dict[str, Any], dict[str, list[Any]], int]:
        outputs: dict[str, Any] = {}
        shapes: dict[str, list[Any]] = {}
        for name, value in SCENARIOS:
            if name == "retry_recovers":
                value = f"{prefix}-{name}"
            state = await run_to_end(engine, name, value, instance_id=f"{prefix}-{name}")
            full = await engine.get_instance(state.instance_id, show_history=True)
            assert full is not None and full.history is not None
            outputs[name] = (
                state.runtime_status.value,
                _without_traceback(output(state)),
                state.custom_status,
            )
            shapes[name] = scheduled(full.history)
        return outputs, shapes, engine.stats.episodes

    return run_with_engine(app, scenario, virtual_time=True, **options)


def _without_traceback(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_traceback(v) for k, v in value.items()}
    if isinstance(value, str):
        return value.split(" \n ")[0]
    return value


def test_batched_and_one_per_episode_delivery_give_identical_results(basic_app: LoadedApp) -> None:
    batched, batched_shape, batched_episodes = _run_all(basic_app, "b")
    single, single_shape, single_episodes = _run_all(basic_app, "s", batch_completions=False)
    assert batched == single
    assert batched_shape == single_shape
    assert single_episodes > batched_episodes  # the fan-outs really were delivered in batches


def test_check_replay_mode_agrees_with_live_sessions_on_every_pattern(basic_app: LoadedApp) -> None:
    checked, checked_shape, _ = _run_all(basic_app, "c", check_replay=True)
    live, live_shape, _ = _run_all(basic_app, "l")
    assert checked == live and checked_shape == live_shape
    assert all(status == "Completed" for status, _, _ in checked.values())


def test_full_replay_every_episode_gives_the_same_results_as_sessions(basic_app: LoadedApp) -> None:
    replayed, replayed_shape, _ = _run_all(basic_app, "r", extended_sessions=False)
    live, live_shape, _ = _run_all(basic_app, "l2")
    assert replayed == live and replayed_shape == live_shape


def test_check_replay_mode_fails_a_non_deterministic_orchestrator(basic_app: LoadedApp) -> None:
    async def scenario(engine: DurableEngine) -> InstanceState:
        return await run_to_end(engine, "nondeterministic", timeout=5)

    state = run_with_engine(basic_app, scenario, check_replay=True)
    assert state.runtime_status is RuntimeStatus.FAILED
    assert "Non-Deterministic workflow detected" in output(state)


def test_restart_replays_history_and_detects_non_determinism(basic_app: LoadedApp, tmp_path: Path) -> None:
    store = tmp_path / "state.sqlite3"

    async def first(engine: DurableEngine) -> str:
        instance_id = await engine.start_new("nondeterministic", instance_id="nd-1")
        await wait_for_custom_status(engine, instance_id, "first done")
        return instance_id

    async def second(engine: DurableEngine) -> InstanceState:
        await engine.raise_event("nd-1", "Next", "2")
        return await engine.wait_for_terminal("nd-1", timeout=5)

    run_with_engine(basic_app, first, store)
    state = run_with_engine(basic_app, second, store)
    assert state.runtime_status is RuntimeStatus.FAILED
    assert "Non-Deterministic workflow detected: history has activity 'double' with id 0" in output(state)


def test_in_flight_instances_resume_after_an_engine_restart(basic_app: LoadedApp, tmp_path: Path) -> None:
    store = tmp_path / "state.sqlite3"
    log = tmp_path / "steps.log"

    async def first(engine: DurableEngine) -> None:
        await engine.start_new(
            "sequence_with_log",
            instance_id="seq",
            input_json=json.dumps({"n": 6, "log": str(log), "sleep": 0.05}),
        )
        await engine.start_new("wait_forever", instance_id="waiter")

        async def two_done() -> bool:
            return log.exists() and log.read_text().count("end") >= 2

        await eventually_async(two_done)

    async def second(engine: DurableEngine) -> tuple[InstanceState, InstanceState | None]:
        done = await engine.wait_for_terminal("seq", timeout=10)
        await engine.raise_event("waiter", "Never", None)
        return done, await engine.get_instance("waiter")

    run_with_engine(basic_app, first, store)
    done, waiter = run_with_engine(basic_app, second, store)
    assert done.runtime_status is RuntimeStatus.COMPLETED
    assert output(done) == [0, 10, 20, 30, 40, 50]
    assert waiter is not None and waiter.runtime_status is RuntimeStatus.RUNNING
    starts = [line for line in log.read_text().splitlines() if line.startswith("start")]
    # Each step ran once, except possibly the one interrupted by the shutdown (at-least-once).
    assert sorted(set(starts)) == [f"start {i}" for i in range(6)]
    assert len(starts) - len(set(starts)) <= 1
