"""ADF activity lists as run tasks, with IfCondition / Switch expanded in place, recursively.

An If/Switch named `check` becomes three kinds of task in the run's one DAG, so branches cost no
sub-orchestration and no history of their own:

* `check/branch`: the selector. It takes the If/Switch's own dependencies, renders `expression` / `on`
  when ready and records the branch it picks as its outcome ("true"/"false", the case value, "default").
* `check/<branch>/<name>`: each branch activity (`ifTrue`, `ifFalse`, a case value, `default`). Each
  depends on the selector with its branch as outcome, so a branch not taken settles EXCLUDED whatever
  its inner dependencies say; inner `dependsOn` are renamed into the same scope.
* `check`: the join, under the activity's own name, so downstream `dependsOn` and `@activity('check')`
  keep working. It waits for the selector and every direct activity of every branch, and is Failed when
  the selector or an activity of the branch taken failed, else Succeeded.

`expand_activities` is the one entry point; a ForEach / Until body can reuse it with its own scope.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from jobclusters.spec.adf_branches import SELECTOR
from jobclusters.spec.model import BranchPayload, Dependency, DependencyCondition, JoinPayload, Task
from jobclusters.spec.reader import Node

ActivityReader = Callable[[Node], Task | None]

_SETTLED = [DependencyCondition.SUCCEEDED, DependencyCondition.FAILED]
_ANY = [DependencyCondition.SUCCEEDED, DependencyCondition.FAILED, DependencyCondition.SKIPPED]


def expand_activities(
    nodes: Sequence[Node], read: ActivityReader, *, scope: str = "", gate: Dependency | None = None
) -> list[Task]:
    """The tasks of one ADF activity list. `scope` prefixes every key ("check/ifTrue/"); `gate` is added
    to every activity's dependencies (the selector of the branch this list belongs to)."""
    tasks, _ = _expand(nodes, read, scope, gate)
    return tasks


def _expand(
    nodes: Sequence[Node], read: ActivityReader, scope: str, gate: Dependency | None
) -> tuple[list[Task], list[str]]:
    """(all tasks, the keys that stand for this list's own activities: plain tasks and joins)."""
    siblings = {name for node in nodes if isinstance(name := node.raw("name"), str)}
    tasks: list[Task] = []
    direct: list[str] = []
    for node in nodes:
        task = read(node)
        if task is None:
            continue
        depends_on = [
            d.model_copy(update={"task_key": scope + d.task_key}) if d.task_key in siblings else d
            for d in task.depends_on
        ]
        if gate is not None:
            depends_on.append(gate)
        task = task.model_copy(update={"key": scope + task.key, "depends_on": depends_on})
        direct.append(task.key)
        if isinstance(task.payload, BranchPayload):
            tasks.extend(_construct(node, task, task.payload, read))
        else:
            tasks.append(task)
    return tasks, direct


def branch_lists(node: Node, payload: BranchPayload) -> list[tuple[str, str, list[Node]]]:
    """(outcome, scope label, activities) of each branch of an If/Switch, in definition order."""
    body = node.obj("typeProperties")
    if body is None:
        return []
    if payload.mode == "if":
        return [
            ("true", "ifTrue", body.objects("ifTrueActivities")),
            ("false", "ifFalse", body.objects("ifFalseActivities")),
        ]
    found = [
        (str(case.raw("value")), str(case.raw("value")), case.objects("activities"))
        for case in body.objects("cases")
    ]
    return [*found, ("default", "default", body.objects("defaultActivities"))]


def _construct(node: Node, task: Task, payload: BranchPayload, read: ActivityReader) -> list[Task]:
    selector = task.model_copy(update={"key": f"{task.key}/{SELECTOR}"})
    inner: list[Task] = []
    members: list[str] = []
    for outcome, label, activities in branch_lists(node, payload):
        gate = Dependency(task_key=selector.key, outcome=outcome, conditions=[DependencyCondition.SUCCEEDED])
        tasks, direct = _expand(activities, read, f"{task.key}/{label}/", gate)
        inner.extend(tasks)
        members.extend(direct)
    join = Task(
        key=task.key,
        description=task.description,
        depends_on=[
            Dependency(task_key=selector.key, conditions=list(_SETTLED)),
            *(Dependency(task_key=key, conditions=list(_ANY)) for key in members),
        ],
        payload=JoinPayload(selector=selector.key, members=members),
        source_path=task.source_path,
    )
    return [selector, *inner, join]
