from __future__ import annotations

from typing import Any

import pytest

from jobclusters.spec import load_definition

NO_TAGS: tuple[str, ...] = ()
CLUSTER = {"spark_version": "15.4.x-scala2.12", "node_type_id": "Standard_DS3_v2", "num_workers": 1}


def task(key: str, *deps: str, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "task_key": key,
        "new_cluster": CLUSTER,
        "notebook_task": {"notebook_path": f"/{key}"},
    }
    if deps:
        body["depends_on"] = [{"task_key": d} for d in deps]
    body.update(extra)
    return body


def errors(doc: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(e.path, e.code, e.message) for e in load_definition(doc, required_tags=NO_TAGS).errors]


def test_a_valid_job_has_no_findings() -> None:
    assert errors({"name": "j", "tasks": [task("a"), task("b", "a")]}) == []


def test_duplicate_task_keys_point_at_the_second_one() -> None:
    found = errors({"name": "j", "tasks": [task("a"), task("a")]})
    assert [(p, c) for p, c, _ in found] == [("$.tasks[1].task_key", "duplicate-key")]
    assert "first defined at $.tasks[0]" in found[0][2]


def test_unknown_dependency_is_reported_at_its_task_key() -> None:
    found = errors({"name": "j", "tasks": [task("a"), task("b", "a", "ghost")]})
    assert [(p, c) for p, c, _ in found] == [("$.tasks[1].depends_on[1].task_key", "unknown-dependency")]
    assert "'ghost'" in found[0][2]


def test_a_cycle_is_named_in_run_order() -> None:
    found = errors({"name": "j", "tasks": [task("a", "c"), task("b", "a"), task("c", "b"), task("d", "a")]})
    assert [(p, c, m) for p, c, m in found] == [
        ("$.tasks[0].depends_on[0].task_key", "cycle", "dependency cycle: a -> b -> c -> a")
    ]


def test_self_dependency_is_a_cycle() -> None:
    found = errors({"name": "j", "tasks": [task("a", "a")]})
    assert [(p, c) for p, c, _ in found] == [("$.tasks[0].depends_on[0].task_key", "cycle")]


def test_two_separate_cycles_are_both_reported() -> None:
    found = errors({"name": "j", "tasks": [task("a", "b"), task("b", "a"), task("c", "d"), task("d", "c")]})
    assert sorted(m for _, c, m in found if c == "cycle") == [
        "dependency cycle: a -> b -> a",
        "dependency cycle: c -> d -> c",
    ]


def test_a_task_with_two_computes_is_an_error() -> None:
    found = errors({"name": "j", "tasks": [task("a", existing_cluster_id="0101-x")]})
    assert [(p, c) for p, c, _ in found] == [("$.tasks[0].existing_cluster_id", "compute")]
    assert "new_cluster and existing_cluster_id" in found[0][2]


def test_a_task_with_no_compute_is_an_error_unless_serverless_environments_exist() -> None:
    bare = {"task_key": "a", "notebook_task": {"notebook_path": "/a"}}
    found = errors({"name": "j", "tasks": [bare]})
    assert [(p, c) for p, c, _ in found] == [("$.tasks[0]", "compute")]
    assert errors({"name": "j", "environments": [{"environment_key": "default"}], "tasks": [bare]}) == []


def test_condition_and_run_job_tasks_need_no_compute() -> None:
    doc = {
        "name": "j",
        "tasks": [
            {"task_key": "c", "condition_task": {"op": "EQUAL_TO", "left": "a", "right": "a"}},
            {"task_key": "r", "run_job_task": {"job_id": 12}},
        ],
    }
    assert errors(doc) == []


def test_undefined_job_cluster_is_an_error() -> None:
    doc = {
        "name": "j",
        "job_clusters": [{"job_cluster_key": "shared", "new_cluster": CLUSTER}],
        "tasks": [{"task_key": "a", "job_cluster_key": "sharde", "notebook_task": {"notebook_path": "/a"}}],
    }
    found = errors(doc)
    assert [(p, c) for p, c, _ in found] == [("$.tasks[0].job_cluster_key", "undefined-cluster")]
    assert "expected one of shared" in found[0][2]


def test_undefined_job_cluster_in_native_format_points_at_compute() -> None:
    doc = {
        "format": "jobclusters/v1",
        "name": "n",
        "tasks": [{"key": "a", "compute": {"kind": "job_cluster", "job_cluster_key": "missing"}}],
    }
    assert [(p, c) for p, c, _ in errors(doc)] == [
        ("$.tasks[0].compute.job_cluster_key", "undefined-cluster")
    ]


def test_outcome_on_a_non_condition_task_is_an_error() -> None:
    doc = {"name": "j", "tasks": [task("a"), task("b", depends_on=[{"task_key": "a", "outcome": "true"}])]}
    assert [(p, c) for p, c, _ in errors(doc)] == [("$.tasks[1].depends_on[0].task_key", "outcome")]


def test_type_errors_name_path_and_expectation() -> None:
    doc = {"name": "j", "tasks": [task("a", timeout_seconds="soon", max_retries=-2, run_if="SOMETIMES")]}
    found = {(p, m) for p, _, m in errors(doc)}
    assert ("$.tasks[0].timeout_seconds", 'expected an integer, got "soon"') in found
    assert ("$.tasks[0].max_retries", "expected an integer >= -1, got -2") in found
    assert any(p == "$.tasks[0].run_if" and "ALL_SUCCESS" in m for p, m in found)


@pytest.mark.parametrize(
    ("cron", "timezone", "bad_path"),
    [
        ("0 0 2 * * ?", "UTC", None),
        ("0 15 10 ? * MON-FRI", "Europe/Paris", None),
        ("0 0 12 L * ?", "America/New_York", None),
        ("0 0 2 * * *", "UTC", "$.schedule.quartz_cron_expression"),
        ("0 0 2 * *", "UTC", "$.schedule.quartz_cron_expression"),
        ("0 61 2 * * ?", "UTC", "$.schedule.quartz_cron_expression"),
        ("0 0 2 * * ?", "Mars/Olympus", "$.schedule.timezone_id"),
        ("0 0 2 * * ?", "../etc/passwd", "$.schedule.timezone_id"),
    ],
)
def test_schedule_cron_and_time_zone(cron: str, timezone: str, bad_path: str | None) -> None:
    doc = {
        "name": "j",
        "schedule": {"quartz_cron_expression": cron, "timezone_id": timezone},
        "tasks": [task("a")],
    }
    found = [p for p, _, _ in errors(doc)]
    assert found == ([] if bad_path is None else [bad_path])


# ---------------------------------------------------------------- dynamic value references


def test_unknown_references_are_validation_errors_with_paths() -> None:
    doc = {
        "name": "j",
        "parameters": [{"name": "day", "default": "x"}],
        "tasks": [
            task("a"),
            task(
                "b",
                "a",
                notebook_task={
                    "notebook_path": "/b",
                    "base_parameters": {
                        "ok": "{{job.parameters.day}} {{tasks.a.values.n}} {{job.start_time.iso_date}}",
                        "bad_param": "{{job.parameters.month}}",
                        "bad_task": "{{tasks.zzz.values.n}}",
                        "bad_name": "{{job.nope}}",
                    },
                },
            ),
        ],
    }
    found = {(p, c) for p, c, _ in errors(doc)}
    assert found == {
        ("$.tasks[1].notebook_task.base_parameters.bad_param", "reference"),
        ("$.tasks[1].notebook_task.base_parameters.bad_task", "reference"),
        ("$.tasks[1].notebook_task.base_parameters.bad_name", "reference"),
    }


def test_adf_expression_references_are_checked_in_pipelines() -> None:
    doc = {
        "name": "p",
        "properties": {
            "parameters": {"x": {"type": "String"}},
            "variables": {"v": {"type": "String"}},
            "activities": [
                {
                    "name": "a",
                    "type": "Fail",
                    "typeProperties": {
                        "message": "@concat(pipeline().parameters.x, variables('v'), activity('a').output.y)",
                        "errorCode": "@concat(pipeline().parameters.nope, variables('w'), "
                        "activity('ghost').output, bogus())",
                    },
                }
            ],
        },
    }
    found = [m for p, c, m in errors(doc) if c == "reference"]
    assert len(found) == 4
    assert all("errorCode" in p for p, c, _ in errors(doc) if c == "reference")


def test_seed_aliases_are_known_references() -> None:
    doc = {
        "name": "j",
        "tasks": [
            task(
                "a",
                new_cluster={**CLUSTER, "cluster_name": "c-{{job_id}}"},
                notebook_task={"notebook_path": "/a", "base_parameters": {"d": "{{start_date}}"}},
            )
        ],
    }
    assert errors(doc) == []


def test_a_task_value_from_a_task_that_is_not_upstream_is_a_warning() -> None:
    doc: dict[str, Any] = {
        "name": "j",
        "tasks": [
            task("a"),
            task(
                "b", notebook_task={"notebook_path": "/b", "base_parameters": {"n": "{{tasks.a.values.n}}"}}
            ),
            task(
                "c",
                "b",
                notebook_task={"notebook_path": "/c", "base_parameters": {"n": "{{tasks.a.values.n}}"}},
            ),
        ],
    }
    result = load_definition(doc, required_tags=NO_TAGS)
    assert result.errors == []
    assert [(w.path, w.code) for w in result.warnings] == [
        ("$.tasks[1].notebook_task.base_parameters.n", "reference-order"),
        ("$.tasks[2].notebook_task.base_parameters.n", "reference-order"),
    ]
    doc["tasks"][2]["depends_on"].append({"task_key": "a"})
    assert len(load_definition(doc, required_tags=NO_TAGS).warnings) == 1
