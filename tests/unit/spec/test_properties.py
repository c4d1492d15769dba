"""Property tests: whatever a definition looks like, loading it yields findings, never an exception."""

from __future__ import annotations

import contextlib
import copy
import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jobclusters.spec import Job, TemplateContext, TemplateError, find_references, load_definition, render
from jobclusters.spec.dag import next_step, run_result, simulate
from jobclusters.spec.model import TaskState
from tests.unit.spec.conftest import NATIVE_DIR, SEED_DIR

SOURCES: list[dict[str, Any]] = [json.loads(p.read_text()) for p in sorted(SEED_DIR.glob("*.json"))]
SOURCES += [load_definition(p).require().model_dump(mode="json") for p in sorted(NATIVE_DIR.glob("*.*"))]
SOURCES += [
    {
        "name": "p",
        "properties": {
            "activities": [
                {"name": "a", "type": "Fail", "typeProperties": {"message": "m", "errorCode": "1"}},
                {
                    "name": "b",
                    "type": "Custom",
                    "dependsOn": [{"activity": "a", "dependencyConditions": ["Failed"]}],
                    "linkedServiceName": {"referenceName": "batch"},
                    "typeProperties": {"command": "echo"},
                },
            ]
        },
    },
    {
        "id": "j",
        "poolInfo": {"poolId": "p"},
        "usesTaskDependencies": True,
        "tasks": [
            {"id": "1", "commandLine": "echo"},
            {"id": "2", "commandLine": "echo", "dependsOn": {"taskIdRanges": [{"start": 1, "end": 1}]}},
        ],
    },
]

SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 10**6),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.sampled_from(
        [
            "",
            "a",
            "{{job.id}}",
            "{{",
            "@concat(",
            "@pipeline().parameters.x",
            "ALL_DONE",
            "PT1H",
            "0 0 * * * ?",
            "-1",
            "true",
            "Failed",
            "notebook",
            "job_cluster",
            "dapi" + "0" * 32,
        ]
    ),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += paths(item, (*prefix, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += paths(item, (*prefix, i))
    return found


def mutate(doc: Any, path: tuple[Any, ...], op: str, new: Any, junk_key: str) -> Any:
    if not path:
        return new if op == "replace" else doc
    parent = doc
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    if op == "replace":
        parent[last] = new
    elif op == "delete":
        del parent[last]
    elif op == "duplicate" and isinstance(parent, list):
        parent.append(copy.deepcopy(parent[last]))
    elif op == "insert" and isinstance(parent[last], dict):
        parent[last][junk_key] = new
    elif op == "stringify":
        parent[last] = json.dumps(parent[last])
    return doc


@st.composite
def mutated_documents(draw: st.DrawFn) -> Any:
    doc = copy.deepcopy(draw(st.sampled_from(SOURCES)))
    for _ in range(draw(st.integers(1, 3))):
        if not isinstance(doc, dict | list):
            break
        path = draw(st.sampled_from(paths(doc)))
        op = draw(st.sampled_from(["replace", "delete", "duplicate", "insert", "stringify"]))
        doc = mutate(doc, path, op, draw(json_values), draw(st.text(max_size=6)))
    return doc


def exercise(job: Job) -> None:
    again = Job.model_validate(job.model_dump(mode="json"))
    assert again.model_dump(mode="json") == job.model_dump(mode="json")
    sim = simulate(job, {t.key: TaskState.FAILED for t in job.tasks[:1]})
    assert set(sim.tasks) == {t.key for t in job.tasks}
    run_result(job, sim.tasks)


@SETTINGS
@given(mutated_documents())
def test_mutated_definitions_only_ever_produce_findings(doc: Any) -> None:
    if not isinstance(doc, dict):
        result = load_definition({"wrapped": doc})
    else:
        result = load_definition(doc, strict=True)
    assert all(p.path.startswith("$") and p.message for p in [*result.errors, *result.warnings])
    dag_broken = any(p.code in {"cycle", "unknown-dependency", "duplicate-key"} for p in result.errors)
    if result.job is not None and not dag_broken:
        exercise(result.job)


@SETTINGS
@given(st.sampled_from([p for p in SEED_DIR.glob("*.json")]), st.binary(max_size=40), st.integers(0, 400))
def test_corrupted_files_are_read_errors_not_crashes(path: Path, junk: bytes, cut: int) -> None:
    data = path.read_bytes()
    corrupted = data[:cut] + junk
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / path.name
        target.write_bytes(corrupted)
        result = load_definition(target)
    assert result.errors or result.job is not None or result.warnings


@SETTINGS
@given(json_values)
def test_templating_raises_only_template_errors(value: Any) -> None:
    find_references(value)
    try:
        render(value, TemplateContext(job_id="1", parameters={"x": "y"}))
    except TemplateError as exc:
        assert exc.path.startswith("$")


@SETTINGS
@given(st.text(alphabet=st.sampled_from(list("@{}()'.,[]abcxyz0123 ")), max_size=30))
def test_expression_fragments_never_crash_the_parser(text: str) -> None:
    find_references({"v": text})
    with contextlib.suppress(TemplateError):
        render({"v": text}, TemplateContext(parameters={"a": 1}))


@SETTINGS
@given(st.data())
def test_next_step_never_offers_a_task_twice_or_a_finished_one(data: st.DataObject) -> None:
    job = load_definition(SEED_DIR / "databricks-job-multitask.json", required_tags=()).require()
    keys = [t.key for t in job.tasks]
    states = {k: data.draw(st.sampled_from(list(TaskState))) for k in keys if data.draw(st.booleans())}
    step = next_step(job, states)
    assert len(step.ready) == len(set(step.ready))
    for key in [*step.ready, *step.settled]:
        assert states.get(key, TaskState.PENDING) == TaskState.PENDING
