from __future__ import annotations

import pytest

from jobclusters.services.factory import TriggerServices
from jobclusters.settings import Settings
from jobclusters.tracking.definitions import TableJobDefinitionStore, job_id_from_name
from triggers.api_support import ApiError, field_of, json_body
from triggers.jobs_api import chosen_job_id, split_envelope, validate_definition

TAGS = {"Project": "p", "Environment": "e", "CostCenter": "c", "Owner": "o"}


def services() -> TriggerServices:
    settings = Settings.from_mapping({})
    return TriggerServices(settings, TableJobDefinitionStore("UseDevelopmentStorage=true"), runs=None)


def test_an_envelope_and_a_bare_definition_are_both_accepted() -> None:
    doc = {"name": "j", "tasks": [{"key": "a"}]}
    assert split_envelope({"definition": doc, "job_id": "x"}) == (doc, {"definition": doc, "job_id": "x"})
    assert split_envelope(doc) == (doc, {})
    with pytest.raises(ApiError) as caught:
        split_envelope({"definition": "not an object"})
    assert caught.value.problems[0]["path"] == "$.definition"


def test_errors_in_an_enveloped_definition_point_into_the_envelope() -> None:
    doc = {
        "format": "jobclusters/v1",
        "name": "j",
        "tags": TAGS,
        "tasks": [{"key": "a", "depends_on": [{"task_key": "ghost"}]}],
    }
    with pytest.raises(ApiError) as caught:
        validate_definition(doc, {"definition": doc}, services(), under="$.definition")
    assert caught.value.status == 400
    assert "$.definition.tasks[0].depends_on[0].task_key" in {p["path"] for p in caught.value.problems}
    with pytest.raises(ApiError) as bare:
        validate_definition(doc, {}, services(), under="")
    assert "$.tasks[0].depends_on[0].task_key" in {p["path"] for p in bare.value.problems}


def test_missing_cost_tags_are_a_warning_and_an_error_when_strict() -> None:
    doc = {"format": "jobclusters/v1", "name": "j", "tasks": [{"key": "a"}]}
    _, result = validate_definition(doc, {}, services(), under="")
    assert any(p.code == "cost-tags" for p in result.warnings)
    with pytest.raises(ApiError) as caught:
        validate_definition(doc, {"strict": True}, services(), under="")
    assert any(p["code"] == "cost-tags" for p in caught.value.problems)


def test_job_ids_default_to_the_name_and_are_checked() -> None:
    assert job_id_from_name("Daily Sales (EU)") == "daily-sales-eu"
    job, _ = validate_definition(
        {"format": "jobclusters/v1", "name": "My Job", "tags": TAGS, "tasks": [{"key": "a"}]},
        {},
        services(),
        under="",
    )
    assert chosen_job_id({}, job) == "my-job"
    with pytest.raises(ApiError) as caught:
        chosen_job_id({"job_id": "has/slash"}, job)
    assert caught.value.problems[0]["path"] == "$.job_id"


def test_request_bodies_must_be_json_objects() -> None:
    assert json_body(b"", required=False) == {}
    for raw, code in ((b"", "missing_body"), (b"{x", "invalid_json"), (b"[1]", "invalid_body")):
        with pytest.raises(ApiError) as caught:
            json_body(raw)
        assert caught.value.code == code and caught.value.status == 400


def test_fields_of_the_wrong_type_name_their_path() -> None:
    assert field_of({"a": 1}, "b", str, "d") == "d"
    with pytest.raises(ApiError) as caught:
        field_of({"parameters": [1]}, "parameters", dict)
    assert caught.value.problems == [
        {"path": "$.parameters", "message": "expected an object", "code": "type"}
    ]
