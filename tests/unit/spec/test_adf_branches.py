"""ADF IfCondition / Switch: the expansion at import (selector, scoped branch activities, join under the
activity's name) and the branch rules a run follows (which branch runs, what the If/Switch ends with,
what its downstream activities see)."""

from __future__ import annotations

from typing import Any

import pytest

from jobclusters.execution.messages import TaskOutcome
from jobclusters.execution.rendering import activity_outputs
from jobclusters.spec import load_definition
from jobclusters.spec.adf_branches import choose_branch, join_state
from jobclusters.spec.commands import parse_outcomes
from jobclusters.spec.dag import next_step, simulate
from jobclusters.spec.model import BranchPayload, Job, JoinPayload, RunResult, TaskState

S, F, X, K = TaskState.SUCCESS, TaskState.FAILED, TaskState.EXCLUDED, TaskState.SKIPPED


def wait(name: str, *deps: tuple[str, str]) -> dict[str, Any]:
    return {
        "name": name,
        "type": "Wait",
        "typeProperties": {"waitTimeInSeconds": 0},
        "dependsOn": [{"activity": a, "dependencyConditions": [c]} for a, c in deps],
    }


def if_condition(name: str, true: list[Any], false: list[Any], *deps: tuple[str, str]) -> dict[str, Any]:
    return {
        "name": name,
        "type": "IfCondition",
        "dependsOn": [{"activity": a, "dependencyConditions": [c]} for a, c in deps],
        "typeProperties": {
            "expression": {"value": "@equals(pipeline().parameters.go, 'yes')", "type": "Expression"},
            "ifTrueActivities": true,
            "ifFalseActivities": false,
        },
    }


def switch(name: str, cases: dict[str, list[Any]], default: list[Any]) -> dict[str, Any]:
    return {
        "name": name,
        "type": "Switch",
        "typeProperties": {
            "on": {"value": "@pipeline().parameters.region", "type": "Expression"},
            "cases": [{"value": v, "activities": acts} for v, acts in cases.items()],
            "defaultActivities": default,
        },
    }


def load(*activities: dict[str, Any]) -> Job:
    parameters = {"go": {"type": "string"}, "region": {"type": "string"}}
    doc = {"name": "p", "properties": {"activities": list(activities), "parameters": parameters}}
    result = load_definition(doc, required_tags=())
    assert result.errors == []
    return result.require()


def test_an_if_becomes_a_selector_its_scoped_branches_and_a_join_under_its_name() -> None:
    job = load(
        wait("start"),
        if_condition(
            "check", [wait("a"), wait("b", ("a", "Succeeded"))], [wait("c")], ("start", "Succeeded")
        ),
        wait("after", ("check", "Succeeded")),
    )
    tasks = {t.key: t for t in job.tasks}
    assert list(tasks) == [
        "start",
        "check/branch",
        "check/ifTrue/a",
        "check/ifTrue/b",
        "check/ifFalse/c",
        "check",
        "after",
    ]
    selector = tasks["check/branch"]
    assert selector.payload == BranchPayload(mode="if", on="@equals(pipeline().parameters.go, 'yes')")
    assert [d.task_key for d in selector.depends_on] == ["start"]
    assert [(d.task_key, d.outcome) for d in tasks["check/ifTrue/b"].depends_on] == [
        ("check/ifTrue/a", None),
        ("check/branch", "true"),
    ]
    assert [(d.task_key, d.outcome) for d in tasks["check/ifFalse/c"].depends_on] == [
        ("check/branch", "false")
    ]
    assert tasks["check"].payload == JoinPayload(
        selector="check/branch", members=["check/ifTrue/a", "check/ifTrue/b", "check/ifFalse/c"]
    )
    assert tasks["check"].source_path == "$.properties.activities[1]"
    assert (
        tasks["check/ifFalse/c"].source_path
        == "$.properties.activities[1].typeProperties.ifFalseActivities[0]"
    )
    assert [d.task_key for d in tasks["after"].depends_on] == ["check"]


def test_nested_switch_inside_an_if_is_expanded_under_its_scope() -> None:
    job = load(if_condition("check", [switch("sw", {"eu": [wait("e")]}, [wait("d")])], []))
    assert [t.key for t in job.tasks] == [
        "check/branch",
        "check/ifTrue/sw/branch",
        "check/ifTrue/sw/eu/e",
        "check/ifTrue/sw/default/d",
        "check/ifTrue/sw",
        "check",
    ]
    assert job.task("check/ifTrue/sw/branch").payload == BranchPayload(
        mode="switch", on="@pipeline().parameters.region", cases=["eu"]
    )
    assert [(d.task_key, d.outcome) for d in job.task("check/ifTrue/sw/branch").depends_on] == [
        ("check/branch", "true")
    ]
    join = job.task("check").payload
    assert isinstance(join, JoinPayload) and join.members == ["check/ifTrue/sw"]


IF_JOB = (
    if_condition("check", [wait("a"), wait("b", ("a", "Failed"))], [wait("c")]),
    wait("on_success", ("check", "Succeeded")),
    wait("on_failure", ("check", "Failed")),
    wait("on_completion", ("check", "Completed")),
)


@pytest.mark.parametrize(
    ("branch", "forced", "expected"),
    [
        (
            "true",
            {},
            {"check/ifTrue/a": S, "check/ifTrue/b": K, "check/ifFalse/c": X, "check": S},
        ),
        (
            "false",
            {},
            {"check/ifTrue/a": X, "check/ifTrue/b": X, "check/ifFalse/c": S, "check": S},
        ),
        # a failing activity fails the If after the branch ran (b handles a's failure and still runs)
        ("true", {"check/ifTrue/a": F}, {"check/ifTrue/b": S, "check": F}),
        ("false", {"check/ifFalse/c": F}, {"check/ifTrue/a": X, "check": F}),
        # the selector failing (an expression that is not a boolean) fails the If; no branch runs
        (
            "true",
            {"check/branch": F},
            {"check/ifTrue/a": K, "check/ifFalse/c": K, "check": F},
        ),
    ],
)
def test_if_branch_rules_and_what_downstream_sees(
    branch: str, forced: dict[str, TaskState], expected: dict[str, TaskState]
) -> None:
    job = load(*IF_JOB)
    sim = simulate(job, forced=forced, condition_outcomes={"check/branch": branch})
    assert {k: sim.tasks[k] for k in expected} == expected
    failed = sim.tasks["check"] == F
    assert sim.tasks["on_success"] == (K if failed else S)
    assert sim.tasks["on_failure"] == (S if failed else K)
    assert sim.tasks["on_completion"] == S
    # ADF's leaf rule: the skipped on_success leaf defers to the failed If
    assert sim.result == (RunResult.FAILED if failed else RunResult.SUCCESS)


def test_a_failed_if_with_nothing_handling_it_fails_the_pipeline() -> None:
    job = load(if_condition("check", [wait("a")], []), wait("after", ("check", "Succeeded")))
    sim = simulate(job, forced={"check/ifTrue/a": F}, condition_outcomes={"check/branch": "true"})
    assert (sim.tasks["check"], sim.tasks["after"], sim.result) == (F, K, RunResult.FAILED)


def test_a_skipped_if_skips_its_branches_and_its_join() -> None:
    job = load(wait("start"), if_condition("check", [wait("a")], [wait("b")], ("start", "Failed")))
    sim = simulate(job)
    assert {k: sim.tasks[k] for k in ("check/branch", "check/ifTrue/a", "check/ifFalse/b", "check")} == {
        "check/branch": K,
        "check/ifTrue/a": K,
        "check/ifFalse/b": K,
        "check": K,
    }


@pytest.mark.parametrize(
    ("region", "ran", "excluded"),
    [
        ("eu", "sw/eu/e", ["sw/us/u", "sw/default/d"]),
        ("us", "sw/us/u", ["sw/eu/e", "sw/default/d"]),
        ("default", "sw/default/d", ["sw/eu/e", "sw/us/u"]),
    ],
)
def test_switch_runs_the_matching_case_or_default(region: str, ran: str, excluded: list[str]) -> None:
    job = load(switch("sw", {"eu": [wait("e")], "us": [wait("u")]}, [wait("d")]))
    sim = simulate(job, condition_outcomes={"sw/branch": region})
    assert sim.tasks[ran] == S and all(sim.tasks[k] == X for k in excluded)
    assert sim.tasks["sw"] == S and sim.result == RunResult.SUCCESS


def test_an_empty_branch_succeeds_at_once() -> None:
    job = load(if_condition("check", [wait("a")], []), wait("after", ("check", "Succeeded")))
    step = next_step(job, {"check/branch": S}, {"check/branch": "false"})
    assert step.settled == {"check/ifTrue/a": X} and step.ready == ["check"]
    sim = simulate(job, condition_outcomes={"check/branch": "false"})
    assert (sim.tasks["check"], sim.tasks["after"]) == (S, S)


def test_a_not_taken_branch_is_excluded_even_where_its_inner_dependency_would_run_it() -> None:
    job = load(if_condition("check", [], [wait("c"), wait("d", ("c", "Skipped"))]))
    sim = simulate(job, condition_outcomes={"check/branch": "true"})
    assert (sim.tasks["check/ifFalse/c"], sim.tasks["check/ifFalse/d"]) == (X, X)


@pytest.mark.parametrize(
    ("payload", "value", "branch"),
    [
        (BranchPayload(mode="if", on=""), True, "true"),
        (BranchPayload(mode="if", on=""), False, "false"),
        (BranchPayload(mode="if", on=""), "True", "true"),
        (BranchPayload(mode="switch", on="", cases=["eu", "us"]), "us", "us"),
        (BranchPayload(mode="switch", on="", cases=["eu", "us"]), "EU", "default"),
        (BranchPayload(mode="switch", on="", cases=["1"]), 1, "1"),
    ],
)
def test_choose_branch(payload: BranchPayload, value: Any, branch: str) -> None:
    assert choose_branch(payload, value) == branch


def test_an_if_expression_that_is_not_a_boolean_fails_it() -> None:
    with pytest.raises(ValueError, match="boolean, got 'maybe'"):
        choose_branch(BranchPayload(mode="if", on=""), "maybe")


def test_join_state_names_the_first_failure() -> None:
    payload = JoinPayload(selector="c/branch", members=["c/ifTrue/a", "c/ifTrue/b"])
    states = {"c/branch": S, "c/ifTrue/a": S, "c/ifTrue/b": TaskState.TIMEDOUT}
    assert join_state(payload, states, {"c/ifTrue/b": "timed out after 5s"}) == (
        F,
        "c/ifTrue/b failed: timed out after 5s",
    )
    assert join_state(payload, {**states, "c/ifTrue/b": X}, {}) == (S, None)


@pytest.mark.parametrize(
    ("activity", "path"),
    [
        (
            {"name": "i", "type": "IfCondition", "typeProperties": {"ifTrueActivities": []}},
            "$.properties.activities[0].typeProperties.expression",
        ),
        (
            {"name": "s", "type": "Switch", "typeProperties": {"cases": []}},
            "$.properties.activities[0].typeProperties.on",
        ),
        ({"name": "i", "type": "IfCondition"}, "$.properties.activities[0].typeProperties"),
        (
            {
                "name": "s",
                "type": "Switch",
                "typeProperties": {"on": "@'a'", "cases": [{"value": "a"}, {"value": "a"}]},
            },
            "$.properties.activities[0].typeProperties.cases[1].value",
        ),
        (
            {"name": "s", "type": "Switch", "typeProperties": {"on": "@'a'", "cases": [{"activities": []}]}},
            "$.properties.activities[0].typeProperties.cases[0].value",
        ),
        (
            {
                "name": "s",
                "type": "Switch",
                "typeProperties": {"on": "@'a'", "cases": [{"value": "default"}]},
            },
            "$.properties.activities[0].typeProperties.cases[0].value",
        ),
        (
            if_condition("i", [{"name": "w", "type": "Wait", "typeProperties": {}}], []),
            "$.properties.activities[0].typeProperties.ifTrueActivities[0].typeProperties.waitTimeInSeconds",
        ),
    ],
)
def test_bad_if_or_switch_names_the_json_path(activity: dict[str, Any], path: str) -> None:
    result = load_definition({"name": "p", "properties": {"activities": [activity]}}, required_tags=())
    assert path in [p.path for p in result.errors]


def test_an_inner_activity_is_found_by_its_own_name_in_expressions() -> None:
    outcomes = {
        "check/ifTrue/look": TaskOutcome(state=S, task_values={"count": 2}),
        "look2": TaskOutcome(state=S, task_values={"v": 1}),
    }
    found = activity_outputs(outcomes)
    assert found["look"] == {"count": 2} and found["check/ifTrue/look"] == {"count": 2}
    assert found["look2"] == {"v": 1}


def test_a_simulated_run_takes_a_switch_case_from_the_command_line() -> None:
    job = load(switch("sw", {"eu": [wait("e")]}, [wait("d")]))
    states, branches = parse_outcomes(["sw/branch=default", "sw/default/d=FAILED"], job)
    sim = simulate(job, forced=states, condition_outcomes=branches)
    assert (sim.tasks["sw/eu/e"], sim.tasks["sw/default/d"], sim.tasks["sw"]) == (X, F, F)


def test_expressions_name_inner_activities_by_their_own_name() -> None:
    echo = {
        "name": "echo",
        "type": "SetVariable",
        "typeProperties": {"variableName": "v", "value": "@activity('pick').output.value"},
    }
    before = wait("pick")
    doc = {
        "name": "p",
        "properties": {
            "variables": {"v": {"type": "String"}},
            "activities": [
                if_condition(
                    "check",
                    [
                        before,
                        {**echo, "dependsOn": [{"activity": "pick", "dependencyConditions": ["Succeeded"]}]},
                    ],
                    [],
                ),
                {
                    **echo,
                    "name": "late",
                    "typeProperties": {"variableName": "v", "value": "@activity('nope').output"},
                },
                {**echo, "name": "unordered"},
            ],
            "parameters": {"go": {"type": "string"}},
        },
    }
    result = load_definition(doc, required_tags=())
    assert [(p.path, p.code) for p in result.errors] == [
        ("$.properties.activities[1].typeProperties.value", "reference")
    ]
    assert [(p.path, p.code) for p in result.warnings if p.code == "reference-order"] == [
        ("$.properties.activities[2].typeProperties.value", "reference-order")
    ]
