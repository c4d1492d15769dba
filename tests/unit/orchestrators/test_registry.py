"""The typed boundary: the registry names exactly the functions the app registers, the activity wrapper
speaks JSON to the host and models to the body, and the cancel handshake reaches every remote run."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from jobclusters.execution import registry
from jobclusters.execution.cancel_handshake import submit_unless_canceled
from jobclusters.execution.messages import SlotInput, SlotResult
from tests.unit.app_functions import app_functions


def _functions() -> dict[str, str]:
    return {
        f.get_function_name(): f.get_trigger().type
        for f in app_functions()
        if f.get_trigger().type in ("activityTrigger", "orchestrationTrigger")
    }


def test_the_registry_names_exactly_the_registered_activities_and_sub_orchestrations() -> None:
    functions = _functions()
    activities = {name for name, kind in functions.items() if kind == "activityTrigger"}
    orchestrators = {name for name, kind in functions.items() if kind == "orchestrationTrigger"}
    assert {s.name for s in registry.ACTIVITIES} == activities
    assert {s.name for s in registry.SUB_ORCHESTRATORS} == orchestrators - {"run_job", "dispatch_arrivals"}


def test_durable_names_stay_as_recorded_histories_know_them() -> None:
    assert [s.name for s in registry.ACTIVITIES] == [
        "claim_run_slot",
        "release_run_slot",
        "request_run_cancel",
        "record_run",
        "record_task_runs",
        "notify_run",
        "cluster_submit",
        "cluster_poll",
        "cluster_finish",
        "cluster_cancel",
        "plan_inputs",
        "batch_prepare",
        "batch_add_chunk",
        "batch_poll",
        "batch_finish",
        "check_job_settings",
        "check_run_request",
        "pending_arrivals",
        "claim_arrivals",
        "batch_start",
        "batch_check",
        "start_child_run",
        "poll_child_run",
        "run_data_activity",
        "cancel_requested",
        "forward_cancel",
    ]
    assert [s.name for s in registry.SUB_ORCHESTRATORS] == [
        "run_task",
        "cluster_run",
        "batch_fanout",
        "child_run",
        "data_activity",
        "for_each",
        "for_each_chunk",
        "run_block",
        "until",
    ]


def test_the_activity_wrapper_parses_the_input_and_dumps_the_result() -> None:
    seen: list[SlotInput] = []

    class Blueprint:
        def activity_trigger(self, input_name: str) -> Any:
            assert input_name == "payload"
            return lambda handler: handler

    spec = registry.ActivitySpec("probe", SlotInput, SlotResult)

    @registry.activity(Blueprint(), spec)
    def body(inp: SlotInput) -> SlotResult:
        seen.append(inp)
        return SlotResult(claimed=True, slot=2)

    assert body.__name__ == "probe"
    out = body({"job_id": "j", "run_id": "r", "max_concurrent_runs": 1})
    assert out == {"claimed": True, "slot": 2, "holders": []}
    assert seen == [SlotInput(job_id="j", run_id="r", max_concurrent_runs=1)]
    with pytest.raises(ValidationError):
        body({"job_id": "j"})


def test_a_call_takes_only_the_input_model_of_its_spec() -> None:
    with pytest.raises(TypeError):
        registry.CLAIM_RUN_SLOT.dump_input(SlotResult(claimed=True))  # type: ignore[arg-type]
    assert registry.RELEASE_RUN_SLOT.read(True) is True
    assert registry.CLAIM_RUN_SLOT.read({"claimed": False}).holders == []


class Markers:
    def __init__(self, answers: list[str | None]) -> None:
        self.answers = answers
        self.registered: list[tuple[str, str, str, dict[str, Any]]] = []

    def cancel_requested(self, run_id: str, *, fresh: bool = False) -> str | None:
        assert fresh, "the handshake never trusts a cached 'not canceled'"
        return self.answers.pop(0)

    def register_handle(self, run_id: str, attempt_id: str, kind: str, handle: dict[str, Any]) -> None:
        self.registered.append((run_id, attempt_id, kind, handle))


def _handshake(markers: Markers, submitted: list[str], cancelled: list[str]) -> Any:
    def submit() -> str:
        submitted.append("h1")
        return "h1"

    return submit_unless_canceled(
        markers,
        control_id="run",
        attempt_id="run:t:r0:a0",
        kind="cluster",
        submit=submit,
        handle_of=lambda h: {"run_id": h},
        cancel=cancelled.append,
    )


def test_a_cancel_before_the_submit_submits_nothing() -> None:
    markers = Markers(["user"])
    submitted: list[str] = []
    cancelled: list[str] = []
    result = _handshake(markers, submitted, cancelled)
    assert result.canceled and result.submitted is None
    assert submitted == [] and markers.registered == [] and cancelled == []


def test_a_cancel_during_the_submit_is_undone_by_the_submitter() -> None:
    markers = Markers([None, "user"])
    submitted: list[str] = []
    cancelled: list[str] = []
    result = _handshake(markers, submitted, cancelled)
    assert result.canceled and result.submitted == "h1"
    assert markers.registered == [("run", "run:t:r0:a0", "cluster", {"run_id": "h1"})]
    assert cancelled == ["h1"]


def test_without_a_cancel_the_handle_is_registered_and_kept() -> None:
    markers = Markers([None, None])
    submitted: list[str] = []
    cancelled: list[str] = []
    result = _handshake(markers, submitted, cancelled)
    assert not result.canceled and result.submitted == "h1" and cancelled == []
    assert len(markers.registered) == 1
