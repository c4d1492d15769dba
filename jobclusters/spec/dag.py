"""DAG rules as pure functions: which tasks run next, which settle without running, the run result.

Orchestrators call these during replay, so nothing here does I/O, reads a clock or the environment.
Two rule books:

* Databricks (`run_if` on the task): the condition is evaluated once every dependency is terminal.
  Excluded/skipped dependencies count as successes; a task whose dependencies are all excluded (or that
  hangs off a condition branch not taken) is EXCLUDED; a canceled dependency makes it UPSTREAM_CANCELED.
  An unmet failure-handling condition (AT_LEAST_ONE_FAILED, ALL_FAILED) gives EXCLUDED, any other unmet
  condition UPSTREAM_FAILED. The run result comes from the leaves.
* ADF (`conditions` on each dependency): AND across dependencies, OR within one; unmet gives SKIPPED.
  A dependency on an If/Switch selector with another branch as `outcome` gives EXCLUDED (branch not
  taken). The pipeline result comes from the leaves, a skipped leaf deferring to its parents.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from jobclusters.spec.adf_branches import join_state
from jobclusters.spec.model import (
    BranchPayload,
    ConditionOp,
    ConditionPayload,
    DependencyCondition,
    EngineRules,
    Job,
    JoinPayload,
    RunIf,
    RunResult,
    Task,
    TaskState,
)

_SUCCESS_LIKE = frozenset({TaskState.SUCCESS})
_EXCLUDED_LIKE = frozenset({TaskState.EXCLUDED, TaskState.SKIPPED})
_FAILED_LIKE = frozenset({TaskState.FAILED, TaskState.TIMEDOUT, TaskState.UPSTREAM_FAILED})
_CANCELED_LIKE = frozenset({TaskState.CANCELED, TaskState.UPSTREAM_CANCELED})
_FAILURE_HANDLING = frozenset({RunIf.AT_LEAST_ONE_FAILED, RunIf.ALL_FAILED})
_READY = "READY"

#: states `repair_set` reruns when no task keys are given (Databricks "repair all failed tasks")
REPAIRABLE_STATES = frozenset(
    {
        TaskState.FAILED,
        TaskState.TIMEDOUT,
        TaskState.CANCELED,
        TaskState.UPSTREAM_FAILED,
        TaskState.UPSTREAM_CANCELED,
    }
)


@dataclass(frozen=True)
class DagStep:
    """`ready`: start these now, in definition order. `settled`: these end now without running."""

    ready: list[str] = field(default_factory=list)
    settled: dict[str, TaskState] = field(default_factory=dict)


def _state(value: TaskState | str | None) -> TaskState:
    return TaskState.PENDING if value is None else TaskState(value)


def _current(job: Job, states: Mapping[str, TaskState | str]) -> dict[str, TaskState]:
    return {
        task.key: value if isinstance(value := states.get(task.key), TaskState) else _state(value)
        for task in job.tasks
    }


def normalize_outcome(value: object) -> str:
    """A condition task's outcome as "true"/"false" (accepts bools and any capitalisation); an ADF
    Switch selector's case value is kept as it is."""
    text = str(value).strip().lower()
    return text if text in {"true", "false"} else str(value)


def _uses_adf_rules(job: Job, task: Task) -> bool:
    return job.engine_rules == EngineRules.ADF or any(d.conditions is not None for d in task.depends_on)


def _decide(
    job: Job, task: Task, current: Mapping[str, TaskState], outcomes: Mapping[str, str]
) -> TaskState | str | None:
    """READY, a settled state, or None while a dependency is still open."""
    if not task.depends_on:
        return _READY
    upstream = [current[dep.task_key] for dep in task.depends_on]
    if not all(s.is_terminal for s in upstream):
        return None
    if any(s in _CANCELED_LIKE for s in upstream):
        return TaskState.UPSTREAM_CANCELED
    if _uses_adf_rules(job, task):
        return _decide_adf(task, upstream, outcomes)
    return _decide_databricks(task, upstream, outcomes)


def _decide_adf(task: Task, upstream: Sequence[TaskState], outcomes: Mapping[str, str]) -> TaskState | str:
    for dep, state in zip(task.depends_on, upstream, strict=True):
        if (
            dep.outcome is not None
            and state == TaskState.SUCCESS
            and outcomes.get(dep.task_key) != dep.outcome
        ):
            return TaskState.EXCLUDED  # an If/Switch branch not taken
    for dep, state in zip(task.depends_on, upstream, strict=True):
        if state in _SUCCESS_LIKE:
            seen = DependencyCondition.SUCCEEDED
        elif state in (TaskState.FAILED, TaskState.TIMEDOUT):
            seen = DependencyCondition.FAILED
        else:
            seen = DependencyCondition.SKIPPED
        wanted = dep.conditions or [DependencyCondition.SUCCEEDED]
        completed = DependencyCondition.COMPLETED in wanted and seen != DependencyCondition.SKIPPED
        if seen not in wanted and not completed:
            return TaskState.SKIPPED
    return _READY


def _decide_databricks(
    task: Task, upstream: Sequence[TaskState], outcomes: Mapping[str, str]
) -> TaskState | str:
    kinds: list[str] = []
    for dep, state in zip(task.depends_on, upstream, strict=True):
        if dep.outcome is not None and state == TaskState.SUCCESS:
            if dep.task_key not in outcomes:
                raise ValueError(f"condition task {dep.task_key!r} succeeded but its outcome is not given")
            if normalize_outcome(outcomes[dep.task_key]) != dep.outcome:
                return TaskState.EXCLUDED
            kinds.append("success")
        elif state in _SUCCESS_LIKE:
            kinds.append("success")
        elif state in _EXCLUDED_LIKE:
            kinds.append("excluded")
        else:
            kinds.append("failed")
    if all(k == "excluded" for k in kinds):
        return TaskState.EXCLUDED
    successes = sum(k != "failed" for k in kinds)
    failures = len(kinds) - successes
    met = {
        RunIf.ALL_SUCCESS: failures == 0,
        RunIf.AT_LEAST_ONE_SUCCESS: successes > 0,
        RunIf.NONE_FAILED: failures == 0,
        RunIf.ALL_DONE: True,
        RunIf.AT_LEAST_ONE_FAILED: failures > 0,
        RunIf.ALL_FAILED: successes == 0,
    }[task.run_if]
    if met:
        return _READY
    return TaskState.EXCLUDED if task.run_if in _FAILURE_HANDLING else TaskState.UPSTREAM_FAILED


def next_step(
    job: Job,
    states: Mapping[str, TaskState | str],
    outcomes: Mapping[str, str] | None = None,
) -> DagStep:
    """What to do now, given the states so far (absent keys are PENDING).

    Settling cascades: a task settled here lets its own dependents settle (or become ready) in the same
    step. `outcomes` holds each finished condition task's "true"/"false".
    """
    given_outcomes = {k: normalize_outcome(v) for k, v in (outcomes or {}).items()}
    current = _current(job, states)
    waiting = [index for index, task in enumerate(job.tasks) if current[task.key] == TaskState.PENDING]
    heapq.heapify(waiting)
    downstream: dict[str, list[int]] | None = None
    settled: dict[str, TaskState] = {}
    ready: set[int] = set()
    while waiting:
        index = heapq.heappop(waiting)
        task = job.tasks[index]
        if current[task.key] != TaskState.PENDING or index in ready:
            continue
        decision = _decide(job, task, current, given_outcomes)
        if decision == _READY:
            ready.add(index)
        elif isinstance(decision, TaskState):
            current[task.key] = decision
            settled[task.key] = decision
            if downstream is None:
                position = {t.key: i for i, t in enumerate(job.tasks)}
                downstream = {key: [position[d] for d in found] for key, found in dependents(job).items()}
            for later in downstream[task.key]:
                heapq.heappush(waiting, later)
    ready_keys = [job.tasks[index].key for index in sorted(ready)]
    return DagStep(ready=ready_keys, settled=settled)


def leaves(job: Job) -> list[str]:
    """Tasks nothing depends on, in definition order."""
    upstream = {dep.task_key for task in job.tasks for dep in task.depends_on}
    return [task.key for task in job.tasks if task.key not in upstream]


def run_result(job: Job, states: Mapping[str, TaskState | str]) -> RunResult | None:
    """The run's result by the home engine's rules, or None while any task is not terminal."""
    current = _current(job, states)
    if not all(s.is_terminal for s in current.values()):
        return None
    if job.engine_rules == EngineRules.ADF:
        return _adf_result(job, current)
    return _databricks_result(job, current)


def _databricks_result(job: Job, current: Mapping[str, TaskState]) -> RunResult:
    leaf_states = [current[key] for key in leaves(job)]
    if any(s in (TaskState.FAILED, TaskState.UPSTREAM_FAILED) for s in leaf_states):
        return RunResult.FAILED
    if TaskState.TIMEDOUT in leaf_states:
        return RunResult.TIMEDOUT
    if any(s in _CANCELED_LIKE for s in current.values()):
        return RunResult.CANCELED
    if any(s in _FAILED_LIKE for s in current.values()):
        return RunResult.SUCCESS_WITH_FAILURES
    return RunResult.SUCCESS


def _adf_result(job: Job, current: Mapping[str, TaskState]) -> RunResult:
    if any(s in _CANCELED_LIKE for s in current.values()):
        return RunResult.CANCELED
    by_key = {task.key: task for task in job.tasks}
    verdict: dict[str, bool] = {}

    def succeeded(key: str) -> bool:
        if key not in verdict:
            state = current[key]
            if state == TaskState.SUCCESS:
                verdict[key] = True
            elif state in (TaskState.FAILED, TaskState.TIMEDOUT):
                verdict[key] = False
            else:  # skipped: defer to the parents it hangs off
                verdict[key] = all(succeeded(dep.task_key) for dep in by_key[key].depends_on)
        return verdict[key]

    return RunResult.SUCCESS if all(succeeded(key) for key in leaves(job)) else RunResult.FAILED


def dependents(job: Job) -> dict[str, list[str]]:
    """Direct downstream tasks of each task, in definition order."""
    found: dict[str, list[str]] = {task.key: [] for task in job.tasks}
    for task in job.tasks:
        for dep in task.depends_on:
            if dep.task_key in found and task.key not in found[dep.task_key]:
                found[dep.task_key].append(task.key)
    return found


def repair_set(
    job: Job,
    states: Mapping[str, TaskState | str],
    task_keys: Sequence[str] | None,
    rerun_dependents: bool = True,
) -> list[str]:
    """Tasks a repair reruns, in definition order: the named ones (or every failed / upstream-failed /
    canceled one when `task_keys` is None), plus everything downstream of them if `rerun_dependents`."""
    known = {task.key for task in job.tasks}
    if task_keys is None:
        current = _current(job, states)
        chosen = {key for key, state in current.items() if state in REPAIRABLE_STATES}
    else:
        unknown = [key for key in task_keys if key not in known]
        if unknown:
            raise ValueError(f"unknown task keys for repair: {', '.join(unknown)}")
        chosen = set(task_keys)
    if rerun_dependents:
        below = dependents(job)
        stack = list(chosen)
        while stack:
            for child in below[stack.pop()]:
                if child not in chosen:
                    chosen.add(child)
                    stack.append(child)
    return [task.key for task in job.tasks if task.key in chosen]


def evaluate_condition(op: ConditionOp, left: str, right: str) -> bool:
    """Databricks condition_task: == and != compare strings; ordering operators compare numbers."""
    if op == "EQUAL_TO":
        return left == right
    if op == "NOT_EQUAL":
        return left != right
    try:
        a, b = float(left), float(right)
    except ValueError as exc:
        raise ValueError(f"{op} compares numbers, got {left!r} and {right!r}") from exc
    return {
        "GREATER_THAN": a > b,
        "GREATER_THAN_OR_EQUAL": a >= b,
        "LESS_THAN": a < b,
        "LESS_THAN_OR_EQUAL": a <= b,
    }[op]


@dataclass(frozen=True)
class Simulation:
    tasks: dict[str, TaskState]
    result: RunResult | None
    order: list[list[str]]
    outcomes: dict[str, str]


def simulate(
    job: Job,
    forced: Mapping[str, TaskState | str] | None = None,
    condition_outcomes: Mapping[str, str] | None = None,
) -> Simulation:
    """Walk the DAG as a run would: tasks not in `forced` succeed. A condition task's outcome comes from
    `condition_outcomes`, else from its operands when they are literals, else "true"; an If/Switch
    selector's from `condition_outcomes`, else "true" / the first case."""
    forced_states = {k: TaskState(v) for k, v in (forced or {}).items()}
    outcomes = {k: normalize_outcome(v) for k, v in (condition_outcomes or {}).items()}
    states: dict[str, TaskState] = {}
    waves: list[list[str]] = []
    while True:
        step = next_step(job, states, outcomes)
        states.update(step.settled)
        if not step.ready:
            break
        waves.append(step.ready)
        for key in step.ready:
            payload = job.task(key).payload
            default = (
                join_state(payload, states, {})[0] if isinstance(payload, JoinPayload) else TaskState.SUCCESS
            )
            states[key] = forced_states.get(key, default)
            if isinstance(payload, ConditionPayload) and key not in outcomes:
                outcomes[key] = _static_outcome(payload)
            if isinstance(payload, BranchPayload) and key not in outcomes:
                outcomes[key] = "true" if payload.mode == "if" else next(iter(payload.cases), "default")
    return Simulation(
        tasks={t.key: states.get(t.key, TaskState.PENDING) for t in job.tasks},
        result=run_result(job, states),
        order=waves,
        outcomes=outcomes,
    )


def _static_outcome(payload: ConditionPayload) -> str:
    if "{{" in payload.left or "{{" in payload.right:
        return "true"
    try:
        return "true" if evaluate_condition(payload.op, payload.left, payload.right) else "false"
    except ValueError:
        return "true"
