from __future__ import annotations

from datetime import UTC, datetime

import pytest

from jobclusters.spec.adf_expressions import format_datetime
from jobclusters.spec.templating import TemplateContext, TemplateError, find_references, render

START = datetime(2024, 3, 9, 14, 5, 6, 789000, tzinfo=UTC)


def ctx(**kw: object) -> TemplateContext:
    base: dict[str, object] = {
        "job_id": "42",
        "run_id": "r-7",
        "job_name": "etl",
        "start_time": START,
        "parameters": {"env": "dev", "count": 3},
        "variables": {"v": "var"},
        "task_key": "load",
        "task_values": {"extract": {"rows": 12}},
        "activity_outputs": {"Lookup": {"firstRow": {"id": 5}, "value": [{"n": "a"}, {"n": "b"}]}},
        "shared_cluster_id": "0101-abc",
    }
    base.update(kw)
    return TemplateContext.model_validate(base)


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{job.id}}", "42"),
        ("{{job.run_id}}", "r-7"),
        ("{{ job.start_time.iso_date }}", "2024-03-09"),
        ("{{job.start_time.timestamp_ms}}", str(int(START.timestamp() * 1000))),
        ("{{job.start_time.is_weekday}}", "false"),
        ("{{job.parameters.env}}", "dev"),
        ("{{task.name}}", "load"),
        ("{{tasks.extract.values.rows}}", "12"),
        ("cluster-{{job_id}}", "cluster-42"),
        ("{{start_date}}", "2024-03-09"),
        ("{{shared_cluster_id}}", "0101-abc"),
        ("{{run_id}}/{{task_key}}", "r-7/load"),
    ],
)
def test_databricks_references_render(template: str, expected: str) -> None:
    assert render(template, ctx()) == expected


def test_secret_references_are_kept_verbatim() -> None:
    value = {
        "conf": {"fs.azure.account.key": "{{secrets/kv/storage-key}}"},
        "kv": "@Microsoft.KeyVault(SecretUri=x)",
    }
    assert render(value, ctx()) == value


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("@pipeline().parameters.env", "dev"),
        ("@pipeline().parameters.count", 3),
        ("@utcnow()", "2024-03-09T14:05:06.7890000Z"),
        ("@formatDateTime(utcnow(), 'yyyy-MM-dd')", "2024-03-09"),
        ("@formatDateTime('2024-01-02T03:04:05Z', 'yyyyMMdd HH:mm')", "20240102 03:04"),
        ("@concat('in/', pipeline().parameters.env, '/', variables('v'))", "in/dev/var"),
        ("@activity('Lookup').output.firstRow.id", 5),
        ("@activity('Lookup').output.value[1].n", "b"),
        ("@pipeline().RunId", "r-7"),
        ("@if(equals(pipeline().parameters.env, 'dev'), 'D', 'P')", "D"),
        ("@addDays('2024-01-31T00:00:00Z', 1, 'yyyy-MM-dd')", "2024-02-01"),
        ("@@literal", "@literal"),
        ("@toUpper('it''s')", "IT'S"),
        ("path/@{pipeline().parameters.env}/@{formatDateTime(utcnow(), 'yyyy')}", "path/dev/2024"),
    ],
)
def test_adf_expressions_evaluate(expression: str, expected: object) -> None:
    assert render(expression, ctx()) == expected


def test_expression_objects_are_unwrapped() -> None:
    value = {"input_path": {"value": "@pipeline().parameters.env", "type": "Expression"}}
    assert render(value, ctx()) == {"input_path": "dev"}


def test_render_recurses_through_dicts_and_lists_and_keeps_other_types() -> None:
    value = {"a": ["{{job.id}}", 1, None, True], "b": {"c": "x-{{job.parameters.env}}"}}
    assert render(value, ctx()) == {"a": ["42", 1, None, True], "b": {"c": "x-dev"}}


@pytest.mark.parametrize(
    ("value", "path", "message"),
    [
        ({"x": ["{{job.nope}}"]}, "$.x[0]", "unknown reference"),
        ({"x": "{{job.parameters.missing}}"}, "$.x", "no job parameter 'missing'"),
        ({"x": "{{tasks.extract.values.nope}}"}, "$.x", "no value 'nope'"),
        ({"x": "{{whatever}}"}, "$.x", "unknown reference"),
        ({"x": "@pipeline().parameters.missing"}, "$.x", "no property 'missing'"),
        ({"x": "@activity('Nope').output"}, "$.x", "no activity output"),
        ({"x": "@nosuch(1)"}, "$.x", "unknown function"),
        ({"x": "@concat('a'"}, "$.x", "end of expression"),
        ({"x": "{{input}}"}, "$.x", "for_each"),
    ],
)
def test_unknown_references_raise_with_the_path(value: object, path: str, message: str) -> None:
    with pytest.raises(TemplateError) as err:
        render(value, ctx())
    assert err.value.path == path
    assert message in err.value.message


def test_utcnow_without_a_clock_is_an_error_not_the_system_time() -> None:
    with pytest.raises(TemplateError, match="clock"):
        render("@utcnow()", TemplateContext())


def test_for_each_input_is_available_inside_a_for_each() -> None:
    context = ctx(for_each_input={"table": "sales"}, has_for_each_input=True)
    assert render("t={{input.table}}", context) == "t=sales"
    assert render("@item().table", context) == "sales"


def test_find_references_classifies_each_reference_with_its_path() -> None:
    refs = find_references(
        {
            "a": "{{job.parameters.p}} {{tasks.t1.values.v}}",
            "b": ["@activity('A').output.x", "@{variables('v')}"],
            "c": "{{secrets/scope/key}}",
            "weird key": "@pipeline().parameters.q",
        }
    )
    summary = [(r.path, r.kind, r.name) for r in refs]
    assert summary == [
        ("$.a", "job.parameters", "p"),
        ("$.a", "tasks", "t1"),
        ("$.b[0]", "activity", "A"),
        ("$.b[1]", "variables", "v"),
        ("$.c", "secret", "secrets/scope/key"),
        ("$['weird key']", "pipeline.parameters", "q"),
    ]
    assert all(r.error is None for r in refs)


def test_find_references_flags_malformed_ones() -> None:
    refs = find_references(["{{secrets/only-scope}}", "@pipeline().Nope", "@concat(", "{{task.bogus}}"])
    assert [r.kind for r in refs] == ["secret", "invalid", "invalid", "invalid"]
    assert all(r.error for r in refs)


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ("yyyy-MM-ddTHH:mm:ss", "2024-03-09T14:05:06"),
        ("o", "2024-03-09T14:05:06.7890000Z"),
        ("dd/MM/yy hh tt", "09/03/24 02 PM"),
        ("yyyy 'year' MMM", "2024 year Mar"),
        ("fff", "789"),
    ],
)
def test_dotnet_date_formats(fmt: str, expected: str) -> None:
    assert format_datetime(START, fmt) == expected
