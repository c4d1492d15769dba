"""Everyday Durable Functions patterns, run through devhost's engine with the SDK's real orchestrator code."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from devhost.app_loader import LoadedApp
from devhost.engine import DurableEngine
from devhost.engine_api import InstanceQuery, InstanceState, RuntimeStatus
from tests.conformance.helpers import (
    output,
    run_to_end,
    run_to_end_with_history,
    run_with_engine,
    scheduled,
    wait_for_custom_status,
)
from tests.eventually import eventually_async


def test_function_chaining_returns_each_activity_result_in_order(basic_app: LoadedApp) -> None:
    state = run_with_engine(basic_app, lambda e: run_to_end(e, "chaining", {"n": 4}))
    assert state.runtime_status is RuntimeStatus.COMPLETED
    assert output(state) == [0, 2, 4, 6]


def test_fan_out_schedules_every_activity_in_order_then_fans_in(basic_app: LoadedApp) -> None:
    state = run_with_engine(basic_app, lambda e: run_to_end_with_history(e, "FanOut", 25))
    assert output(state) == sum(2 * i for i in range(25))
    assert state.history is not None
    tasks = [ev for ev in state.history if ev["EventType"] == 4]
    assert [ev["EventId"] for ev in tasks] == list(range(25))
    assert [json.loads(ev["Input"]) for ev in tasks] == list(range(25))


def test_sync_and_async_activities_both_run(basic_app: LoadedApp) -> None:
    state = run_with_engine(basic_app, lambda e: run_to_end(e, "mixed_sync_async"))
    assert output(state) == [8, "hello world"]


def test_monitor_loops_with_timers_and_continue_as_new_in_virtual_time(basic_app: LoadedApp) -> None:
    state = run_with_engine(
        basic_app, lambda e: run_to_end_with_history(e, "monitor", timeout=10), virtual_time=True
    )
    assert state.runtime_status is RuntimeStatus.COMPLETED
    assert output(state) == [0, 2, 4, 6]
    # Three 30-minute timers passed in virtual time; the history holds only the last execution.
    assert state.last_updated_time - state.created_time >= timedelta(minutes=90)
    assert state.history is not None
    assert sum(1 for ev in state.history if ev["EventType"] == 0) == 1
    assert json.loads(state.history[1]["Input"])["round"] == 3


def test_human_interaction_event_wins_the_race_against_the_timer(basic_app: LoadedApp) -> None:
    async def scenario(engine: DurableEngine) -> InstanceState:
        instance_id = await engine.start_new("approval", input_json="3600")
        await wait_for_custom_status(engine, instance_id, "waiting")
        await engine.raise_event(instance_id, "Approval", json.dumps("alice"))
        return await engine.wait_for_terminal(instance_id, timeout=10)

    state = run_with_engine(basic_app, scenario)
    assert output(state) == {"approved": True, "by": "alice"}
    assert json.loads(state.custom_status or "null") == "approved"


def test_human_interaction_timer_wins_when_no_event_comes(basic_app: LoadedApp) -> None:
    state = run_with_engine(basic_app, lambda e: run_to_end(e, "approval", 3600), virtual_time=True)
    assert output(state) == {"approved": False}
    assert json.loads(state.custom_status or "null") == "timed out"


def test_external_event_raised_before_the_wait_is_buffered(basic_app: LoadedApp) -> None:
    async def scenario(engine: DurableEngine) -> InstanceState:
        instance_id = await engine.start_new("early_event")
        await engine.raise_event(instance_id, "Go", json.dumps({"early": True}))
        return await engine.wait_for_terminal(instance_id, timeout=10)

    state = run_with_engine(basic_app, scenario)
    assert output(state) == ["slept", {"early": True}]


def test_sub_orchestrations_with_explicit_and_generated_ids_and_retry(basic_app: LoadedApp) -> None:
    async def scenario(engine: DurableEngine) -> tuple[InstanceState, list[InstanceState]]:
        await run_to_end(engine, "parent", instance_id="parent-1")
        state = await engine.get_instance("parent-1", show_history=True)
        assert state is not None
        children, _ = await engine.query_instances(InstanceQuery(page_size=100))
        return state, [c for c in children if c.parent_instance_id == "parent-1"]

    state, children = run_with_engine(basic_app, scenario)
    assert output(state) == {"a": 11, "b": "ok after 2", "many": [1, 3, 5]}
    assert state.history is not None
    execution_id = state.history[1]["OrchestrationInstance"]["ExecutionId"]
    created = {ev["InstanceId"]: ev["EventId"] for ev in state.history if ev["EventType"] == 7}
    # The explicit id is kept; DTFx names the others "<parent execution id>:<event id>".
    assert created.pop("parent-1:child-a") == 0
    assert all(child_id == f"{execution_id}:{event_id}" for child_id, event_id in created.items())
    assert {c.instance_id for c in children} == {"parent-1:child-a", *created}
    flaky = [c for c in children if c.name == "flaky_child"]
    assert sorted(c.runtime_status.value for c in flaky) == ["Completed", "Failed"]
    assert len(children) == 1 + 2 + 3  # explicit child, two flaky attempts, three generated


def test_caught_activity_failure_reaches_the_orchestrator_with_type_and_message(basic_app: LoadedApp) -> None:
    state = run_with_engine(basic_app, lambda e: run_to_end(e, "caught_failure"))
    assert state.runtime_status is RuntimeStatus.COMPLETED
    caught = output(state)["caught"]
    assert "Activity function 'boom' failed: RuntimeError: boom: caught" in caught
    assert "function_app.py" in caught and "devhost/engine" not in caught


def test_uncaught_activity_failure_fails_the_orchestration(basic_app: LoadedApp) -> None:
    state = run_with_engine(basic_app, lambda e: run_to_end(e, "uncaught_failure"))
    assert state.runtime_status is RuntimeStatus.FAILED
    assert output(state).startswith("Orchestrator function 'uncaught_failure' failed: ")
    assert "RuntimeError: boom: uncaught" in output(state)


def test_retry_exhaustion_is_attempt_timer_pairs_with_the_extra_timer(basic_app: LoadedApp) -> None:
    state = run_with_engine(basic_app, lambda e: run_to_end_with_history(e, "retry_exhausted"))
    assert "boom: always" in output(state)["failed"]
    assert state.history is not None
    assert scheduled(state.history) == [
        (4, 0, "boom"),
        (10, 1, ""),
        (4, 2, "boom"),
        (10, 3, ""),
        (4, 4, "boom"),
        (10, 5, ""),
    ]


def test_retry_recovers_after_transient_failures(basic_app: LoadedApp) -> None:
    state = run_with_engine(basic_app, lambda e: run_to_end(e, "retry_recovers", "recover-1"))
    assert json.loads(output(state)) == {"attempts": 3}


def test_custom_status_is_visible_and_keeps_the_last_value(basic_app: LoadedApp) -> None:
    state = run_with_engine(basic_app, lambda e: run_to_end(e, "custom_status"))
    assert json.loads(state.custom_status or "null") == {"stage": 2}


def test_new_uuid_and_current_time_are_stable_across_replays(basic_app: LoadedApp) -> None:
    async def scenario(engine: DurableEngine) -> InstanceState:
        return await run_to_end_with_history(engine, "deterministic_values")

    # check_replay replays the whole history every episode and compares with the live generator.
    state = run_with_engine(basic_app, scenario, check_replay=True)
    assert state.runtime_status is RuntimeStatus.COMPLETED
    values = output(state)
    assert len({v["uuid"] for v in values}) == 4
    assert state.history is not None
    starts = {ev["Timestamp"].replace("Z", "") for ev in state.history if ev["EventType"] == 12}
    assert all(v["now"].replace("+00:00", "") in starts for v in values)
    again = run_with_engine(basic_app, scenario, check_replay=True, extended_sessions=False)
    assert [v["uuid"] for v in output(again)] != [v["uuid"] for v in values]  # new instance id, new uuids


def test_scheduling_an_unknown_activity_fails_the_orchestration_like_the_extension(
    basic_app: LoadedApp,
) -> None:
    state = run_with_engine(basic_app, lambda e: run_to_end(e, "calls_missing_activity"))
    assert state.runtime_status is RuntimeStatus.FAILED
    assert (
        "The function 'no_such_activity' doesn't exist, is disabled, or is not an activity function"
        in output(state)
    )


def test_entities_signal_and_call_in_order_with_state_and_errors(basic_app: LoadedApp) -> None:
    async def scenario(engine: DurableEngine) -> tuple[InstanceState, tuple[bool, str | None]]:
        state = await run_to_end(engine, "uses_entity", "k1")
        return state, await engine.read_entity_state("Counter", "k1")

    state, (exists, entity_state) = run_with_engine(basic_app, scenario, check_replay=True)
    assert state.runtime_status is RuntimeStatus.COMPLETED, state.output
    result = output(state)
    # The signal (add 5) is processed before the call (add 3): operations run in the order sent.
    assert result["after_add"] == 8 and result["doubled"] == 16 and result["current"] == 8
    assert "counter refused: on purpose" in result["failure"]
    assert exists is True and json.loads(entity_state or "null") == 0


def test_entity_state_survives_a_restart_and_client_signals_reach_it(
    basic_app: LoadedApp, tmp_path: Path
) -> None:
    store = tmp_path / "state.sqlite3"

    async def first(engine: DurableEngine) -> None:
        await engine.signal_entity("Counter", "k2", "add", "4")
        await engine.signal_entity("counter", "k2", "add", "6")

        async def settled() -> bool:
            exists, value = await engine.read_entity_state("Counter", "k2")
            return exists and value == "10"

        await eventually_async(settled)

    async def second(engine: DurableEngine) -> tuple[bool, str | None]:
        await engine.signal_entity("Counter", "k2", "delete")

        async def deleted() -> bool:
            return (await engine.read_entity_state("Counter", "k2"))[0] is False

        before = await engine.read_entity_state("Counter", "k2")
        await eventually_async(deleted)
        return before

    run_with_engine(basic_app, first, store)
    assert run_with_engine(basic_app, second, store) == (True, "10")


def test_calling_an_unknown_entity_fails_the_orchestration(basic_app: LoadedApp) -> None:
    state = run_with_engine(basic_app, lambda e: run_to_end(e, "uses_missing_entity"))
    assert state.runtime_status is RuntimeStatus.FAILED
    assert "The function 'nope' doesn't exist, is disabled, or is not an entity function" in output(state)


def test_when_all_waits_for_every_child_before_the_next_action_even_after_a_failure(
    basic_app: LoadedApp,
) -> None:
    state = run_with_engine(
        basic_app, lambda e: run_to_end_with_history(e, "when_all_with_failure"), check_replay=True
    )
    assert output(state) == {
        "error": "Activity function 'boom' failed: RuntimeError: boom: in-all",
        "after": 42,
    }
    assert state.history is not None
    kinds = [(ev["EventType"], ev.get("TaskScheduledId", ev.get("EventId"))) for ev in state.history]
    # The third activity (id 2) is scheduled only after the slow sibling (id 1) completed, as the shim does.
    assert kinds.index((5, 1)) < kinds.index((4, 2))


def test_nested_when_any_when_all_with_retry_timers_and_sub_orchestration(basic_app: LoadedApp) -> None:
    state = run_with_engine(basic_app, lambda e: run_to_end(e, "nested_groups"), check_replay=True)
    assert state.runtime_status is RuntimeStatus.COMPLETED, state.output
    assert output(state) == {"first_is_pair": True, "pair": [2, 4], "rest": ['{"attempts": 3}', 7]}


def test_signals_sent_in_the_last_episode_still_reach_the_entity(basic_app: LoadedApp) -> None:
    async def scenario(engine: DurableEngine) -> tuple[str | None, str | None]:
        await run_to_end(engine, "signal_and_return", "k3")
        await run_to_end(engine, "signal_and_continue", {"key": "k4", "left": 2})

        async def settled() -> bool:
            return (await engine.read_entity_state("Counter", "k3"))[1] == "2" and (
                await engine.read_entity_state("Counter", "k4")
            )[1] == "3"

        await eventually_async(settled)
        return (await engine.read_entity_state("Counter", "k3"))[1], (
            await engine.read_entity_state("Counter", "k4")
        )[1]

    assert run_with_engine(basic_app, scenario, check_replay=True) == ("2", "3")


def test_two_early_events_of_one_name_reach_both_waits_as_the_sdk_buffers_them(basic_app: LoadedApp) -> None:
    async def scenario(engine: DurableEngine) -> InstanceState:
        instance_id = await engine.start_new("two_early_events")
        await engine.raise_event(instance_id, "Add", "5")
        await engine.raise_event(instance_id, "Add", "7")
        return await engine.wait_for_terminal(instance_id, timeout=10)

    # The SDK keeps only the latest early event per name and hands it to every later wait (as on Azure).
    state = run_with_engine(basic_app, scenario, check_replay=True)
    assert output(state) == [7, 7]
