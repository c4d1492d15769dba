"""Management operations: terminate, suspend/resume, purge, queries, duplicate ids, unknown names."""

from __future__ import annotations

import json

import pytest

from devhost.app_loader import LoadedApp
from devhost.engine import DurableEngine, UnknownOrchestrator
from devhost.engine_api import InstanceAlreadyRunning, InstanceNotFound, InstanceQuery, RuntimeStatus
from tests.conformance.helpers import output, run_to_end, run_with_engine
from tests.eventually import eventually_async


async def _status(engine: DurableEngine, instance_id: str) -> RuntimeStatus | None:
    state = await engine.get_instance(instance_id)
    return state.runtime_status if state else None


def test_terminate_stops_a_waiting_instance_and_records_the_reason(basic_app: LoadedApp) -> None:
    async def scenario(engine: DurableEngine) -> None:
        instance_id = await engine.start_new("wait_forever")

        async def running() -> bool:
            return await _status(engine, instance_id) is RuntimeStatus.RUNNING

        await eventually_async(running)
        await engine.terminate(instance_id, "no longer needed")
        state = await engine.wait_for_terminal(instance_id, timeout=5)
        assert state.runtime_status is RuntimeStatus.TERMINATED
        assert output(state) == "no longer needed"
        # Events sent to a terminated instance are dropped, not an error.
        await engine.raise_event(instance_id, "Never", None)
        assert await _status(engine, instance_id) is RuntimeStatus.TERMINATED

    run_with_engine(basic_app, scenario)


def test_suspended_instance_holds_events_until_resumed(basic_app: LoadedApp) -> None:
    async def scenario(engine: DurableEngine) -> None:
        instance_id = await engine.start_new("counter_loop", input_json="2")

        async def is_status(wanted: RuntimeStatus) -> bool:
            return await _status(engine, instance_id) is wanted

        await eventually_async(lambda: is_status(RuntimeStatus.RUNNING))
        await engine.suspend(instance_id, "hold on")
        await eventually_async(lambda: is_status(RuntimeStatus.SUSPENDED))
        await engine.raise_event(instance_id, "Add", "5")
        await engine.raise_event(instance_id, "Add", "7")
        await engine.settled()
        assert await _status(engine, instance_id) is RuntimeStatus.SUSPENDED
        held = await engine.get_instance(instance_id, show_history=True)
        assert held is not None and held.history is not None
        assert 15 not in [ev["EventType"] for ev in held.history]  # no EventRaised while suspended
        await engine.resume(instance_id, "go on")
        state = await engine.wait_for_terminal(instance_id, timeout=5)
        assert state.runtime_status is RuntimeStatus.COMPLETED
        assert output(state) == 12
        full = await engine.get_instance(instance_id, show_history=True)
        assert full is not None and full.history is not None
        kinds = [ev["EventType"] for ev in full.history]
        assert kinds.index(19) < kinds.index(20)  # ExecutionSuspended then ExecutionResumed

    run_with_engine(basic_app, scenario)


def test_purge_removes_only_finished_instances(basic_app: LoadedApp) -> None:
    async def scenario(engine: DurableEngine) -> None:
        done = await run_to_end(engine, "chaining", {"n": 1})
        waiting = await engine.start_new("wait_forever")
        assert await engine.purge(waiting) is False
        assert await engine.purge(done.instance_id) is True
        assert await engine.get_instance(done.instance_id) is None
        assert await engine.purge(done.instance_id) is False
        await engine.terminate(waiting, "cleanup")
        await engine.wait_for_terminal(waiting, timeout=5)
        purged = await engine.purge_many(InstanceQuery(runtime_status=frozenset({RuntimeStatus.TERMINATED})))
        assert purged == 1
        assert await engine.get_instance(waiting) is None

    run_with_engine(basic_app, scenario)


def test_queries_filter_by_status_and_prefix_and_page_with_tokens(basic_app: LoadedApp) -> None:
    async def scenario(engine: DurableEngine) -> None:
        for i in range(5):
            await run_to_end(engine, "chaining", {"n": 1}, instance_id=f"q-{i}")
        await engine.start_new("wait_forever", instance_id="other-1")
        seen: list[str] = []
        token = None
        while True:
            page, token = await engine.query_instances(
                InstanceQuery(instance_id_prefix="q-", page_size=2, continuation_token=token)
            )
            assert len(page) <= 2
            seen += [s.instance_id for s in page]
            if token is None:
                break
        assert seen == [f"q-{i}" for i in range(5)]
        running, _ = await engine.query_instances(
            InstanceQuery(runtime_status=frozenset({RuntimeStatus.RUNNING, RuntimeStatus.PENDING}))
        )
        assert [s.instance_id for s in running] == ["other-1"]
        hidden, _ = await engine.query_instances(InstanceQuery(instance_id_prefix="q-0"))
        assert hidden[0].input is None
        shown, _ = await engine.query_instances(InstanceQuery(instance_id_prefix="q-0", show_input=True))
        assert json.loads(shown[0].input or "null") == {"n": 1}
        with pytest.raises(ValueError, match="continuation_token"):
            await engine.query_instances(InstanceQuery(continuation_token="garbage"))

    run_with_engine(basic_app, scenario)


def test_start_new_refuses_an_id_in_flight_but_reuses_a_finished_one(basic_app: LoadedApp) -> None:
    async def scenario(engine: DurableEngine) -> None:
        await engine.start_new("wait_forever", instance_id="dup")
        with pytest.raises(InstanceAlreadyRunning):
            await engine.start_new("wait_forever", instance_id="dup")
        first = await run_to_end(engine, "chaining", {"n": 1}, instance_id="again")
        second = await run_to_end(engine, "chaining", {"n": 2}, instance_id="again")
        assert output(first) == [0] and output(second) == [0, 2]

    run_with_engine(basic_app, scenario)


def test_unknown_names_and_instances_are_clear_errors(basic_app: LoadedApp) -> None:
    async def scenario(engine: DurableEngine) -> None:
        with pytest.raises(UnknownOrchestrator, match="'nope' doesn't exist"):
            await engine.start_new("nope")
        with pytest.raises(InstanceNotFound):
            await engine.raise_event("missing", "x", None)
        with pytest.raises(InstanceNotFound):
            await engine.terminate("missing", "x")
        assert await engine.get_instance("missing") is None

    run_with_engine(basic_app, scenario)
