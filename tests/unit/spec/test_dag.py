from __future__ import annotations

import itertools

import pytest

from jobclusters.spec.dag import (
    evaluate_condition,
    leaves,
    next_step,
    repair_set,
    run_result,
    simulate,
)
from jobclusters.spec.model import (
    ConditionPayload,
    Dependency,
    DependencyCondition,
    EngineRules,
    Job,
    RunIf,
    RunResult,
    Task,
    TaskState,
)

S, F, T, E, C = (
    TaskState.SUCCESS,
    TaskState.FAILED,
    TaskState.TIMEDOUT,
    TaskState.EXCLUDED,
    TaskState.CANCELED,
)
UF, UC, SK = TaskState.UPSTREAM_FAILED, TaskState.UPSTREAM_CANCELED, TaskState.SKIPPED
RUN = "RUN"


def job_with_two_parents(run_if: RunIf) -> Job:
    return Job(
        name="j",
        tasks=[
            Task(key="a"),
            Task(key="b"),
            Task(key="c", run_if=run_if, depends_on=[Dependency(task_key="a"), Dependency(task_key="b")]),
        ],
    )


def decide(job: Job, key: str, states: dict[str, TaskState]) -> str:
    step = next_step(job, states)
    if key in step.ready:
        return RUN
    return step.settled[key].value


# (a, b) -> outcome for c, per run_if; E = upstream excluded, which counts as a success
RUN_IF_TABLE: dict[RunIf, dict[tuple[TaskState, TaskState], str]] = {
    RunIf.ALL_SUCCESS: {
        (S, S): RUN,
        (S, F): "UPSTREAM_FAILED",
        (F, F): "UPSTREAM_FAILED",
        (S, E): RUN,
        (F, E): "UPSTREAM_FAILED",
        (E, E): "EXCLUDED",
    },
    RunIf.AT_LEAST_ONE_SUCCESS: {
        (S, S): RUN,
        (S, F): RUN,
        (F, F): "UPSTREAM_FAILED",
        (S, E): RUN,
        (F, E): RUN,
        (E, E): "EXCLUDED",
    },
    RunIf.NONE_FAILED: {
        (S, S): RUN,
        (S, F): "UPSTREAM_FAILED",
        (F, F): "UPSTREAM_FAILED",
        (S, E): RUN,
        (F, E): "UPSTREAM_FAILED",
        (E, E): "EXCLUDED",
    },
    RunIf.ALL_DONE: {(S, S): RUN, (S, F): RUN, (F, F): RUN, (S, E): RUN, (F, E): RUN, (E, E): "EXCLUDED"},
    RunIf.AT_LEAST_ONE_FAILED: {
        (S, S): "EXCLUDED",
        (S, F): RUN,
        (F, F): RUN,
        (S, E): "EXCLUDED",
        (F, E): RUN,
        (E, E): "EXCLUDED",
    },
    RunIf.ALL_FAILED: {
        (S, S): "EXCLUDED",
        (S, F): "EXCLUDED",
        (F, F): RUN,
        (S, E): "EXCLUDED",
        (F, E): "EXCLUDED",
        (E, E): "EXCLUDED",
    },
}


@pytest.mark.parametrize(
    ("run_if", "a", "b"),
    [(r, a, b) for r, table in RUN_IF_TABLE.items() for (a, b) in table],
)
def test_run_if_truth_table(run_if: RunIf, a: TaskState, b: TaskState) -> None:
    job = job_with_two_parents(run_if)
    assert decide(job, "c", {"a": a, "b": b}) == RUN_IF_TABLE[run_if][(a, b)]


@pytest.mark.parametrize("run_if", list(RunIf))
@pytest.mark.parametrize("failed_like", [T, UF])
def test_timeouts_and_upstream_failures_count_as_failures(run_if: RunIf, failed_like: TaskState) -> None:
    job = job_with_two_parents(run_if)
    assert decide(job, "c", {"a": S, "b": failed_like}) == RUN_IF_TABLE[run_if][(S, F)]


@pytest.mark.parametrize("run_if", list(RunIf))
@pytest.mark.parametrize("canceled", [C, UC])
def test_a_canceled_dependency_cancels_downstream_whatever_run_if(run_if: RunIf, canceled: TaskState) -> None:
    job = job_with_two_parents(run_if)
    assert decide(job, "c", {"a": S, "b": canceled}) == "UPSTREAM_CANCELED"


def test_nothing_is_decided_while_a_dependency_runs() -> None:
    job = job_with_two_parents(RunIf.ALL_DONE)
    step = next_step(job, {"a": S, "b": TaskState.RUNNING})
    assert step.ready == [] and step.settled == {}


def test_roots_are_ready_in_definition_order() -> None:
    job = Job(
        name="j", tasks=[Task(key="z"), Task(key="a"), Task(key="m", depends_on=[Dependency(task_key="z")])]
    )
    assert next_step(job, {}).ready == ["z", "a"]
    assert next_step(job, {"z": TaskState.RUNNING}).ready == ["a"]


def test_settling_cascades_through_the_chain_in_one_step() -> None:
    job = Job(
        name="j",
        tasks=[
            Task(key="a"),
            Task(key="b", depends_on=[Dependency(task_key="a")]),
            Task(key="c", depends_on=[Dependency(task_key="b")]),
            Task(key="cleanup", run_if=RunIf.ALL_DONE, depends_on=[Dependency(task_key="c")]),
        ],
    )
    step = next_step(job, {"a": F})
    assert step.settled == {"b": UF, "c": UF}
    assert step.ready == ["cleanup"]


def condition_job() -> Job:
    return Job(
        name="j",
        tasks=[
            Task(key="check", payload=ConditionPayload(op="EQUAL_TO", left="1", right="1")),
            Task(key="yes", depends_on=[Dependency(task_key="check", outcome="true")]),
            Task(key="no", depends_on=[Dependency(task_key="check", outcome="false")]),
            Task(key="after_no", depends_on=[Dependency(task_key="no")]),
        ],
    )


@pytest.mark.parametrize(("outcome", "ready", "excluded"), [("true", "yes", "no"), ("false", "no", "yes")])
def test_condition_outcome_picks_one_branch_and_excludes_the_other(
    outcome: str, ready: str, excluded: str
) -> None:
    step = next_step(condition_job(), {"check": S}, {"check": outcome})
    assert ready in step.ready
    assert step.settled[excluded] == E


def test_tasks_below_an_excluded_branch_are_excluded_too() -> None:
    step = next_step(condition_job(), {"check": S}, {"check": "true"})
    assert step.settled == {"no": E, "after_no": E}


def test_condition_outcome_must_be_given_once_the_condition_succeeded() -> None:
    with pytest.raises(ValueError, match="outcome"):
        next_step(condition_job(), {"check": S})


def test_failed_condition_task_fails_both_branches() -> None:
    step = next_step(condition_job(), {"check": F})
    assert step.settled["yes"] == UF and step.settled["no"] == UF


# ---------------------------------------------------------------- ADF rules

ADF_UPSTREAM = {"Succeeded": S, "Failed": F, "Skipped": SK}


def adf_allows(conditions: tuple[DependencyCondition, ...], seen: str) -> bool:
    """ADF: OR within one dependency; Completed = Succeeded or Failed."""
    names = {c.value for c in conditions}
    return seen in names or ("Completed" in names and seen in {"Succeeded", "Failed"})


ALL_CONDITION_SETS = [
    combo for n in range(1, 5) for combo in itertools.combinations(list(DependencyCondition), n)
]


def adf_pipeline(*tasks: Task) -> Job:
    return Job(name="p", engine_rules=EngineRules.ADF, tasks=list(tasks))


def after(parent: str, *conditions: DependencyCondition) -> list[Dependency]:
    return [Dependency(task_key=parent, conditions=list(conditions))]


def adf_job(*deps: tuple[str, tuple[DependencyCondition, ...]]) -> Job:
    roots = [Task(key=name) for name, _ in deps]
    child = Task(
        key="child",
        depends_on=[Dependency(task_key=name, conditions=list(conds)) for name, conds in deps],
    )
    return adf_pipeline(*roots, child)


@pytest.mark.parametrize("conditions", ALL_CONDITION_SETS, ids=lambda c: "|".join(x.value for x in c))
@pytest.mark.parametrize("seen", list(ADF_UPSTREAM))
def test_adf_every_condition_set_against_every_upstream_outcome(
    conditions: tuple[DependencyCondition, ...], seen: str
) -> None:
    job = adf_job(("a", conditions))
    expected = RUN if adf_allows(conditions, seen) else "SKIPPED"
    assert decide(job, "child", {"a": ADF_UPSTREAM[seen]}) == expected


@pytest.mark.parametrize(
    ("a_seen", "b_seen", "expected"),
    [
        ("Succeeded", "Failed", RUN),
        ("Succeeded", "Succeeded", "SKIPPED"),
        ("Failed", "Failed", "SKIPPED"),
        ("Skipped", "Failed", "SKIPPED"),
    ],
)
def test_adf_dependencies_combine_with_and(a_seen: str, b_seen: str, expected: str) -> None:
    job = adf_job(("a", (DependencyCondition.SUCCEEDED,)), ("b", (DependencyCondition.FAILED,)))
    assert decide(job, "child", {"a": ADF_UPSTREAM[a_seen], "b": ADF_UPSTREAM[b_seen]}) == expected


def test_adf_timeout_counts_as_failed() -> None:
    job = adf_job(("a", (DependencyCondition.FAILED,)))
    assert decide(job, "child", {"a": T}) == RUN


def test_adf_try_catch_ends_succeeded_when_the_handler_succeeds() -> None:
    job = adf_pipeline(
        Task(key="try"),
        Task(key="catch", depends_on=after("try", DependencyCondition.FAILED)),
    )
    sim = simulate(job, {"try": F})
    assert sim.tasks == {"try": F, "catch": S}
    assert sim.result == RunResult.SUCCESS


def test_adf_do_if_else_ends_failed_because_the_skipped_leaf_defers_to_its_failed_parent() -> None:
    job = adf_pipeline(
        Task(key="do"),
        Task(key="on_ok", depends_on=after("do", DependencyCondition.SUCCEEDED)),
        Task(key="on_fail", depends_on=after("do", DependencyCondition.FAILED)),
    )
    sim = simulate(job, {"do": F})
    assert sim.tasks == {"do": F, "on_ok": SK, "on_fail": S}
    assert sim.result == RunResult.FAILED
    assert simulate(job).result == RunResult.SUCCESS


def test_adf_completed_handler_makes_a_failed_step_proceed() -> None:
    job = adf_pipeline(Task(key="a"), Task(key="next", depends_on=after("a", DependencyCondition.COMPLETED)))
    assert simulate(job, {"a": F}).result == RunResult.SUCCESS
    assert simulate(job, {"next": F}).result == RunResult.FAILED


def test_adf_skipped_leaf_defers_up_a_chain_of_skipped_parents() -> None:
    job = adf_pipeline(
        Task(key="a"),
        Task(key="b", depends_on=after("a", DependencyCondition.FAILED)),
        Task(key="c", depends_on=[Dependency(task_key="b")]),
    )
    sim = simulate(job)
    assert sim.tasks == {"a": S, "b": SK, "c": SK}
    assert sim.result == RunResult.SUCCESS


# ---------------------------------------------------------------- Databricks run result


def chain_with_handler() -> Job:
    return Job(
        name="j",
        tasks=[
            Task(key="work"),
            Task(key="publish", depends_on=[Dependency(task_key="work")]),
            Task(key="alert", run_if=RunIf.AT_LEAST_ONE_FAILED, depends_on=[Dependency(task_key="work")]),
        ],
    )


def test_result_is_none_while_a_task_is_open() -> None:
    assert run_result(chain_with_handler(), {"work": S, "publish": TaskState.RUNNING, "alert": E}) is None
    assert run_result(chain_with_handler(), {"work": S}) is None


def test_all_leaves_succeeding_or_excluded_is_success() -> None:
    assert simulate(chain_with_handler()).result == RunResult.SUCCESS


def test_a_failed_leaf_fails_the_run() -> None:
    sim = simulate(chain_with_handler(), {"work": F})
    assert sim.tasks["publish"] == UF
    assert sim.result == RunResult.FAILED


def test_handled_failure_gives_success_with_failures() -> None:
    job = Job(
        name="j",
        tasks=[
            Task(key="work"),
            Task(key="alert", run_if=RunIf.AT_LEAST_ONE_FAILED, depends_on=[Dependency(task_key="work")]),
        ],
    )
    assert simulate(job, {"work": F}).result == RunResult.SUCCESS_WITH_FAILURES


def test_timed_out_leaf_gives_timedout_and_cancel_gives_canceled() -> None:
    job = Job(name="j", tasks=[Task(key="a"), Task(key="b", depends_on=[Dependency(task_key="a")])])
    assert simulate(job, {"b": T}).result == RunResult.TIMEDOUT
    assert simulate(job, {"a": C}).result == RunResult.CANCELED
    assert simulate(job, {"a": C}).tasks["b"] == UC


def test_leaves_are_tasks_nothing_depends_on() -> None:
    assert leaves(chain_with_handler()) == ["publish", "alert"]


# ---------------------------------------------------------------- repair


def diamond() -> Job:
    return Job(
        name="j",
        tasks=[
            Task(key="a"),
            Task(key="b", depends_on=[Dependency(task_key="a")]),
            Task(key="c", depends_on=[Dependency(task_key="a")]),
            Task(key="d", depends_on=[Dependency(task_key="b"), Dependency(task_key="c")]),
        ],
    )


def test_repair_all_failed_reruns_failed_and_upstream_failed_tasks() -> None:
    states = {"a": S, "b": F, "c": S, "d": UF}
    assert repair_set(diamond(), states, None) == ["b", "d"]


def test_repair_named_task_with_and_without_dependents() -> None:
    states = {"a": S, "b": S, "c": S, "d": S}
    assert repair_set(diamond(), states, ["a"]) == ["a", "b", "c", "d"]
    assert repair_set(diamond(), states, ["c"], rerun_dependents=False) == ["c"]


def test_repair_rejects_unknown_task_keys() -> None:
    with pytest.raises(ValueError, match="nope"):
        repair_set(diamond(), {}, ["nope"])


# ---------------------------------------------------------------- conditions


@pytest.mark.parametrize(
    ("op", "left", "right", "expected"),
    [
        ("EQUAL_TO", "10", "10.0", False),
        ("NOT_EQUAL", "a", "b", True),
        ("GREATER_THAN", "10", "9", True),
        ("GREATER_THAN_OR_EQUAL", "2", "2.0", True),
        ("LESS_THAN", "-1", "0", True),
        ("LESS_THAN_OR_EQUAL", "3", "2", False),
    ],
)
def test_condition_operators_compare_strings_or_numbers(
    op: str, left: str, right: str, expected: bool
) -> None:
    assert evaluate_condition(op, left, right) is expected  # type: ignore[arg-type]


def test_ordering_operators_reject_non_numbers() -> None:
    with pytest.raises(ValueError, match="numbers"):
        evaluate_condition("GREATER_THAN", "abc", "1")


def test_simulate_follows_literal_condition_operands() -> None:
    sim = simulate(condition_job())
    assert sim.tasks == {"check": S, "yes": S, "no": E, "after_no": E}
    sim = simulate(condition_job(), condition_outcomes={"check": "false"})
    assert sim.tasks["yes"] == E and sim.tasks["after_no"] == S
