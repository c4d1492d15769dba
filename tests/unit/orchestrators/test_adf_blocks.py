"""ADF ForEach and Until imported from pipeline JSON and run by the real orchestrators on the fake context
(`run_job` -> `for_each` -> `for_each_chunk` -> `run_block`, and `until` pass after pass): every iteration
runs, one failed iteration fails the ForEach after all ran, `isSequential` and `batchCount` set how many
run at once, the body's rows sit under `<task>[<index>]/<inner>`, Until stops once its expression is true
and ends TIMEDOUT past its cap."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from jobclusters.failed_inputs import InputSelection
from jobclusters.run_request import RepairInfo, RunRequest, TriggerInfo
from jobclusters.spec.loader import load_definition
from jobclusters.spec.model import ForEachPayload, TaskState
from orchestrators import for_each, run_job, until
from tests.unit.orchestrators.fake_context import FakeContext, FakeTask, drive
from tests.unit.orchestrators.script import START, batch_started
from tests.unit.orchestrators.test_run_job_bounded_history import HISTORY_LIMIT, CountingContext

NO_TAGS: tuple[str, ...] = ()
_NESTED = {
    "for_each": for_each.for_each,
    "for_each_chunk": for_each.for_each_chunk,
    "run_block": run_job.run_block,
    "until": until.until,
}


def _custom(name: str, command: str, after: str | None = None) -> dict[str, Any]:
    activity: dict[str, Any] = {
        "name": name,
        "type": "Custom",
        "linkedServiceName": {"referenceName": "batch"},
        "typeProperties": {"command": command},
    }
    if after:
        activity["dependsOn"] = [{"activity": after, "dependencyConditions": ["Succeeded"]}]
    return activity


def _pipeline(*activities: dict[str, Any], variables: dict[str, Any] | None = None) -> RunRequest:
    doc = {"name": "p", "properties": {"activities": list(activities), "variables": variables or {}}}
    result = load_definition(doc, required_tags=NO_TAGS)
    assert result.errors == []
    job = result.require()
    return RunRequest(run_id="run-1", job_id="p", job=job, trigger=TriggerInfo(kind="cli"))


class Host:
    """Answers activities, drives the real control orchestrators (following continue_as_new) and answers
    a command (`run_task`, or its quick start) from `fails` (a command containing one of its words fails)."""

    def __init__(self, fails: tuple[str, ...] = (), clock_step: timedelta = timedelta(0)) -> None:
        self.fails = fails
        self.clock_step = clock_step
        self.commands: list[str] = []
        self.rows: list[tuple[str, str]] = []
        self.now = START
        self.cancel_checks = 0
        self.histories: dict[str, int] = {}
        self.cancel_reason: str | None = None
        self.timeouts: list[int | None] = []
        self.callers: list[CountingContext] = []
        self.stopped_by_timeout: tuple[str, ...] = ()

    def __call__(self, task: FakeTask) -> Any:
        if task.name in _NESTED:
            return self.drive(task.name, task.input, task.instance_id or task.name)
        if task.name == "run_task":  # an iteration of a one-activity body
            return self.run_command(task.input)
        if task.name == "batch_start":  # a command in a block's walk, started (and ended) quick
            self.timeouts.append(task.input["run"]["task"]["timeout_seconds"])
            return batch_started(self.run_command(task.input["run"]))
        if task.name == "cancel_requested":
            self.cancel_checks += 1
            return self.cancel_reason if self.cancel_checks >= 2 else None
        if task.name == "record_task_runs":
            self.rows += [(r["task_key"], r["state"]) for r in task.input["rows"]]
            return 1
        return {
            "claim_run_slot": {"claimed": True, "slot": 0, "holders": []},
            "check_job_settings": {"blocked": {}},
            "check_run_request": [],
        }.get(task.name, {})

    def run_command(self, run: dict[str, Any]) -> dict[str, Any]:
        command = run["task"]["payload"]["command_line"]
        self.commands.append(command)
        self.now += self.clock_step
        if self.callers:  # the orchestrator that waited for the command reads the time it ended at
            self.callers[-1].now = max(self.callers[-1].now, self.now)
        if any(word in command for word in self.stopped_by_timeout):
            return {"state": "TIMEDOUT", "attempts": 1, "message": "timed out; the Batch job was terminated"}
        failed = any(word in command for word in self.fails)
        return {
            "state": "FAILED" if failed else "SUCCESS",
            "attempts": 1,
            "message": "exit 1" if failed else None,
        }

    def drive(self, name: str, value: Any, instance_id: str) -> Any:
        """Drive a nested orchestrator to its end; its caller's clock then reads the time it ended at."""
        while True:
            ctx = CountingContext(value, now=self.now, instance_id=instance_id)
            self.callers.append(ctx)
            try:
                output = drive(_NESTED[name], ctx, self)
            finally:
                self.callers.pop()
            self.histories[name] = max(self.histories.get(name, 0), ctx.history_events())
            self.now = max(self.now, ctx.now)
            if ctx.continued_with is None:
                if self.callers:
                    self.callers[-1].now = max(self.callers[-1].now, self.now)
                return output
            value = ctx.continued_with


def _run(req: RunRequest, host: Host) -> dict[str, Any]:
    ctx = FakeContext(req.model_dump(mode="json"), now=START, instance_id=req.run_id)
    return drive(run_job.run_job, ctx, host)


def _for_each(body: list[dict[str, Any]], items: Any, **props: Any) -> dict[str, Any]:
    return {
        "name": "loop",
        "type": "ForEach",
        "typeProperties": {"items": items, "activities": body, **props},
    }


def _for_each_after(first: str, body: list[dict[str, Any]], items: Any) -> dict[str, Any]:
    return {
        **_for_each(body, items),
        "dependsOn": [{"activity": first, "dependencyConditions": ["Succeeded"]}],
    }


def test_a_body_of_two_activities_runs_per_item_and_one_failed_item_fails_the_foreach_after_all_ran() -> None:
    body = [_custom("copy", "copy @{item()}"), _custom("load", "load @{item()}", after="copy")]
    host = Host(fails=("load b",))

    output = _run(_pipeline(_for_each(body, ["a", "b", "c"])), host)

    assert sorted(host.commands) == ["copy a", "copy b", "copy c", "load a", "load b", "load c"]
    assert output["tasks"]["loop"]["state"] == "FAILED"
    assert output["tasks"]["loop"]["message"].startswith("1 of 3 iterations failed; first: [1] load: exit 1")
    assert output["result"] == "FAILED"
    assert ("loop[1]", "FAILED") in host.rows and ("loop[0]", "SUCCESS") in host.rows
    assert ("loop[1]/load", "FAILED") not in host.rows, "run_task records its own rows"
    inline = [k for k, _ in host.rows if "/" in k]
    assert inline == [], "only inline inner activities are recorded by the block"


def test_inner_activities_see_item_outer_outputs_and_each_other() -> None:
    set_name = {
        "name": "name",
        "type": "SetVariable",
        "typeProperties": {"variableName": "v", "value": "@concat('run-', pipeline().RunId)"},
    }
    body = [
        {
            "name": "pick",
            "type": "Filter",
            "typeProperties": {"items": "@createArray(item().name)", "condition": "@true"},
        },
        _custom(
            "use",
            "use @{activity('pick').output.FilteredItemsCount} @{item().name} @{variables('v')}",
            after="pick",
        ),
    ]
    host = Host()

    req = _pipeline(
        set_name, _for_each(body, [{"name": "x"}, {"name": "y"}]), variables={"v": {"type": "String"}}
    )
    output = _run(req, host)

    assert output["result"] == "SUCCESS", output["tasks"]
    assert sorted(host.commands) == ["use 1 x run-run-1", "use 1 y run-run-1"]
    assert ("loop[0]/pick", "SUCCESS") in host.rows and ("loop[1]/pick", "SUCCESS") in host.rows


@pytest.mark.parametrize(("props", "most"), [({"isSequential": True}, 1), ({"batchCount": 2}, 2), ({}, 20)])
def test_is_sequential_and_batch_count_set_how_many_iterations_run_at_once(
    props: dict[str, Any], most: int
) -> None:
    req = _pipeline(
        _for_each([_custom("a", "a @{item()}"), _custom("b", "b", after="a")], list(range(5)), **props)
    )
    loop = req.job.task("loop").payload
    assert isinstance(loop, ForEachPayload) and loop.concurrency == most


def _until(expression: str, timeout: str = "0.00:10:00") -> dict[str, Any]:
    return {
        "name": "again",
        "type": "Until",
        "typeProperties": {
            "expression": {"value": expression, "type": "Expression"},
            "timeout": timeout,
            "activities": [
                {
                    "name": "grow",
                    "type": "SetVariable",
                    "typeProperties": {"variableName": "n", "value": "@concat(variables('n'), 'x')"},
                },
                _custom("work", "work @{variables('n')}", after="grow"),
            ],
        },
    }


def _after_until() -> dict[str, Any]:
    return {
        "name": "report",
        "type": "Custom",
        "linkedServiceName": {"referenceName": "batch"},
        "dependsOn": [{"activity": "again", "dependencyConditions": ["Completed"]}],
        "typeProperties": {"command": "report @{variables('n')}"},
    }


N = {"n": {"type": "String", "defaultValue": ""}}


def test_until_runs_passes_until_its_expression_is_true_and_the_variables_flow_on() -> None:
    host = Host()

    output = _run(_pipeline(_until("@equals(length(variables('n')), 3)"), _after_until(), variables=N), host)

    assert host.commands == ["work x", "work xx", "work xxx", "report xxx"]
    assert output["tasks"]["again"]["state"] == "SUCCESS"
    assert output["result"] == "SUCCESS"
    passes = [k for k, s in host.rows if k.startswith("again[") and "/" not in k and s == "SUCCESS"]
    assert passes == ["again[0]", "again[1]", "again[2]"]
    assert ("again[2]/grow", "SUCCESS") in host.rows


def test_a_failed_pass_fails_the_until() -> None:
    host = Host(fails=("work xx",))

    output = _run(_pipeline(_until("@equals(variables('n'), 'never')"), variables=N), host)

    assert host.commands == ["work x", "work xx"]
    assert output["tasks"]["again"]["state"] == "FAILED"
    assert output["tasks"]["again"]["message"] == "pass 2: work: exit 1"


def test_until_ends_timedout_once_a_pass_ends_past_its_cap() -> None:
    host = Host(clock_step=timedelta(minutes=4))

    output = _run(_pipeline(_until("@equals(variables('n'), 'never')", "0.00:10:00"), variables=N), host)

    assert host.commands == ["work x", "work xx", "work xxx"], "the third pass ends at 12 minutes"
    assert output["tasks"]["again"]["state"] == "TIMEDOUT"
    assert output["tasks"]["again"]["message"] == "timed out after 0:10:00; 3 passes ended"
    assert output["result"] == "FAILED", "an activity that timed out fails the pipeline"


def test_a_pass_running_at_the_untils_cap_has_its_tasks_timeouts_capped_there() -> None:
    """The Until's timeout stops a running pass through its tasks' own timeouts (which kill their work):
    each command's timeout is what is left to the cap when it starts."""
    host = Host(clock_step=timedelta(minutes=4))

    _run(_pipeline(_until("@equals(variables('n'), 'never')", "0.00:10:00"), variables=N), host)

    assert host.timeouts == [600, 360, 120], "started at 0, 4 and 8 minutes of a 10-minute cap"


def _until_around(loop: dict[str, Any]) -> dict[str, Any]:
    until = _until("@equals(1, 2)", "0.00:10:00")
    until["typeProperties"]["activities"] = [loop]
    return until


def test_a_foreach_inside_an_until_keeps_the_untils_cap_in_every_iteration() -> None:
    """At any depth: each iteration's timeout is what is left to the Until's cap when it starts, and an
    iteration that would start past the cap does not start."""
    host = Host(clock_step=timedelta(minutes=4))
    loop = _for_each([_custom("work", "work @{item()}")], ["a", "b", "c", "d"], isSequential=True)

    output = _run(_pipeline(_until_around(loop)), host)

    assert host.commands == ["work a", "work b", "work c"]
    assert host.timeouts == [600, 360, 120], "started at 0, 4 and 8 minutes of a 10-minute cap"
    assert not [r for r in host.rows if r[0].startswith("again[0]/loop[3]")], "never started: no row"
    assert output["tasks"]["again"]["state"] == "TIMEDOUT"


def test_a_foreach_body_inside_an_until_keeps_the_untils_cap() -> None:
    host = Host(clock_step=timedelta(minutes=4))
    body = [_custom("copy", "copy @{item()}"), _custom("load", "load @{item()}", after="copy")]
    loop = _for_each(body, ["a", "b"], isSequential=True)

    output = _run(_pipeline(_until_around(loop)), host)

    assert host.commands == ["copy a", "load a", "copy b"]
    assert host.timeouts == [600, 360, 120]
    assert ("again[0]/loop[1]/load", "TIMEDOUT") in host.rows, "past the cap: not started"
    assert output["tasks"]["again"]["state"] == "TIMEDOUT"


def test_a_pass_stopped_at_the_cap_times_the_until_out_rather_than_failing_it() -> None:
    host = Host(clock_step=timedelta(minutes=4))
    host.stopped_by_timeout = ("work xxx",)

    output = _run(_pipeline(_until("@equals(variables('n'), 'never')", "0.00:10:00"), variables=N), host)

    assert output["tasks"]["again"]["state"] == "TIMEDOUT"
    assert (
        output["tasks"]["again"]["message"] == "timed out after 0:10:00; pass 3 was stopped; 3 passes ended"
    )


def test_an_until_expression_that_is_not_a_boolean_fails_it_naming_the_path() -> None:
    output = _run(_pipeline(_until("@variables('n')"), variables=N), Host())

    assert output["tasks"]["again"]["state"] == "FAILED"
    assert output["tasks"]["again"]["message"].startswith(
        "$.properties.activities[0].typeProperties.expression:"
    )


def test_a_one_activity_body_runs_as_the_iteration_itself_with_item_rendered() -> None:
    host = Host(fails=("do b",))

    output = _run(_pipeline(_for_each([_custom("do", "do @{item()}")], ["a", "b"])), host)

    assert sorted(host.commands) == ["do a", "do b"]
    assert output["tasks"]["loop"]["message"] == "1 of 2 iterations failed; first: [1] exit 1"


def test_items_that_are_not_an_array_fail_the_foreach_naming_the_json_path() -> None:
    host = Host()

    output = _run(_pipeline(_for_each([_custom("do", "do @{item()}")], "@concat('a', 'b')")), host)

    assert host.commands == []
    assert output["tasks"]["loop"]["state"] == "FAILED"
    assert output["tasks"]["loop"]["message"].startswith(
        "$.properties.activities[0].typeProperties.items: inputs is not a JSON array"
    )


@pytest.mark.parametrize(
    ("props", "path", "code"),
    [
        ({"batchCount": 51}, "typeProperties.batchCount", "range"),
        ({"items": None}, "typeProperties.items", "required"),
        (
            {"activities": [_custom("a", "a", after="nope")]},
            "typeProperties.activities[0].dependsOn[0].activity",
            "unknown-dependency",
        ),
        (
            {"activities": [{"name": "a", "type": "Custom", "typeProperties": {}}]},
            "typeProperties.activities[0].typeProperties.command",
            "required",
        ),
    ],
)
def test_bad_foreach_definitions_are_errors_at_their_json_path(
    props: dict[str, Any], path: str, code: str
) -> None:
    loop = _for_each([_custom("a", "a @{item()}")], ["x"])
    loop["typeProperties"].update(props)
    loop["typeProperties"] = {k: v for k, v in loop["typeProperties"].items() if v is not None}
    result = load_definition({"name": "p", "properties": {"activities": [loop]}}, required_tags=NO_TAGS)

    assert (f"$.properties.activities[0].{path}", code) in [(e.path, e.code) for e in result.errors]


def test_an_until_with_a_zero_timeout_is_an_error_at_its_path() -> None:
    until_ = _until("@true", "0.00:00:00")
    result = load_definition({"name": "p", "properties": {"activities": [until_]}}, required_tags=NO_TAGS)

    assert ("$.properties.activities[0].typeProperties.timeout", "timespan") in [
        (e.path, e.code) for e in result.errors
    ]


def test_a_repair_reruns_only_the_failed_iterations_whole() -> None:
    body = [_custom("copy", "copy @{item()}"), _custom("load", "load @{item()}", after="copy")]
    first = _pipeline(_for_each(body, ["a", "b", "c"]))
    host = Host(fails=("load b",))
    failed = _run(first, host)["tasks"]["loop"]["failed_inputs"]
    assert failed["count"] == 1 and [i["index"] for i in failed["listed"]] == [1]
    repair = RepairInfo(
        of_run_id="run-1",
        number=1,
        rerun_tasks=["loop"],
        previous_states={"loop": TaskState.FAILED},
        rerun_inputs={"loop": InputSelection(indexes=[1])},
    )
    again = Host()

    output = _run(first.model_copy(update={"run_id": "run-1-r1", "repair": repair}), again)

    assert again.commands == ["copy b", "load b"]
    assert output["tasks"]["loop"]["state"] == "SUCCESS"
    assert ("loop[1]", "SUCCESS") in again.rows


def test_a_canceled_run_stops_an_until_before_its_next_pass() -> None:
    host = Host()
    host.cancel_reason = "enough"

    output = _run(_pipeline(_until("@equals(variables('n'), 'never')"), variables=N), host)

    assert host.commands == ["work x", "work xx"], "the marker is read before passes 2 and 3"
    assert output["tasks"]["again"]["state"] == "CANCELED"
    assert output["tasks"]["again"]["message"] == "canceled: enough"


def test_a_canceled_run_starts_no_further_iteration_of_a_block_foreach() -> None:
    body = [_custom("copy", "copy @{item()}"), _custom("load", "load @{item()}", after="copy")]
    host = Host()
    host.cancel_reason = "enough"

    output = _run(_pipeline(_for_each(body, ["a", "b", "c", "d"], isSequential=True)), host)

    assert host.commands == ["copy a", "load a", "copy b", "load b"], "read before the 2nd and 3rd iteration"
    assert output["tasks"]["loop"]["state"] == "CANCELED"


def test_a_sequential_block_foreach_over_1000_items_keeps_every_history_bounded() -> None:
    body = [_custom("copy", "copy @{item()}"), _custom("load", "load @{item()}", after="copy")]
    host = Host(fails=("load <7>",))

    output = _run(_pipeline(_for_each(body, [f"<{i}>" for i in range(1000)], isSequential=True)), host)

    assert len(host.commands) == 2000
    assert output["tasks"]["loop"]["message"] == "1 of 1000 iterations failed; first: [7] load: exit 1"
    assert set(host.histories) == {"for_each", "for_each_chunk", "run_block"}
    assert max(host.histories.values()) < HISTORY_LIMIT, host.histories


def test_an_until_of_200_passes_keeps_every_history_bounded() -> None:
    host = Host()

    output = _run(_pipeline(_until("@equals(length(variables('n')), 200)", "1.00:00:00"), variables=N), host)

    assert output["tasks"]["again"]["state"] == "SUCCESS" and len(host.commands) == 200
    assert max(host.histories.values()) < 60, host.histories


def test_every_iterations_append_variable_lands_for_the_activities_after_the_foreach() -> None:
    body = [
        {
            "name": "keep",
            "type": "AppendVariable",
            "typeProperties": {"variableName": "seen", "value": "@item()"},
        },
        _custom("use", "use @{item()}", after="keep"),
    ]
    report = _custom("report", "report @{join(variables('seen'), ',')}")
    report["dependsOn"] = [{"activity": "loop", "dependencyConditions": ["Completed"]}]
    host = Host(fails=("use b",))

    _run(_pipeline(_for_each(body, ["a", "b", "c"]), report, variables={"seen": {"type": "Array"}}), host)

    assert sorted(host.commands[:3]) == ["use a", "use b", "use c"]
    assert host.commands[3:] == ["report a,b,c"], "a failed iteration's appends land too, as in ADF"


def test_a_body_of_one_append_variable_or_one_until_runs_through_the_walk() -> None:
    keep = {
        "name": "keep",
        "type": "AppendVariable",
        "typeProperties": {"variableName": "seen", "value": "@item()"},
    }
    report = _custom("report", "report @{join(variables('seen'), ',')}")
    report["dependsOn"] = [{"activity": "loop", "dependencyConditions": ["Succeeded"]}]
    host = Host()

    output = _run(
        _pipeline(_for_each([keep], ["a", "b"]), report, variables={"seen": {"type": "Array"}}), host
    )

    assert output["result"] == "SUCCESS", output["tasks"]
    assert host.commands == ["report a,b"]

    inner = _until("@equals(length(variables('n')), 2)")
    nested = Host()
    output = _run(_pipeline(_for_each([inner], ["p", "q"]), variables=N), nested)

    assert output["result"] == "SUCCESS", output["tasks"]
    assert nested.commands == ["work x", "work xx", "work x", "work xx"]
    assert ("loop[1]/again[1]/grow", "SUCCESS") in nested.rows
