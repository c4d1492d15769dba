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


def test_next_fire_times_come_from_the_quartz_schedule_in_its_zone() -> None:
    from datetime import UTC, datetime

    from jobclusters.spec.model import Schedule
    from triggers.jobs_api import next_fire_times

    now = datetime(2026, 3, 27, 5, 0, tzinfo=UTC)  # a Friday; Europe/Paris moves to summer time on the 29th
    daily = Schedule(quartz_cron_expression="0 30 6 * * ?", timezone_id="Europe/Paris")
    assert next_fire_times(daily, now, count=3) == [
        "2026-03-27T05:30:00+00:00",
        "2026-03-28T05:30:00+00:00",
        "2026-03-29T04:30:00+00:00",
    ]
    weekdays = Schedule(quartz_cron_expression="0 0 9 ? * MON-FRI")
    assert next_fire_times(weekdays, now, count=2) == [
        "2026-03-27T09:00:00+00:00",
        "2026-03-30T09:00:00+00:00",
    ]
    assert len(next_fire_times(weekdays, now)) == 5


def test_no_next_fire_times_while_paused_without_a_schedule_or_past_its_years() -> None:
    from datetime import UTC, datetime

    from jobclusters.spec.model import Schedule
    from triggers.jobs_api import next_fire_times

    now = datetime(2026, 3, 27, 5, 0, tzinfo=UTC)
    assert next_fire_times(None, now) == []
    paused = Schedule(quartz_cron_expression="0 0 9 * * ?", pause_status="PAUSED")
    assert next_fire_times(paused, now) == []
    over = Schedule(quartz_cron_expression="0 0 9 * * ? 2025")
    assert next_fire_times(over, now) == []
    once = Schedule(quartz_cron_expression="0 0 9 1 1 ? 2027")
    assert next_fire_times(once, now) == ["2027-01-01T09:00:00+00:00"]


def test_the_listing_and_one_job_carry_next_fire_times() -> None:
    import asyncio
    from datetime import UTC, datetime

    from jobclusters.spec.model import Schedule
    from jobclusters.tracking.definitions import JobDefinition, JobSummary
    from triggers.jobs_api import get_job, list_jobs

    schedule = Schedule(quartz_cron_expression="0 0 * * * ?")
    summary = JobSummary(
        job_id="j", name="j", format="jobclusters/v1", registered_at="x", updated_at="x", schedule=schedule
    )
    job, _ = validate_definition(
        {"format": "jobclusters/v1", "name": "j", "tags": TAGS, "tasks": [{"key": "a"}]},
        {},
        services(),
        under="",
    )

    class Store:
        async def list(self) -> list[JobSummary]:
            return [summary, summary.model_copy(update={"job_id": "k", "schedule": None})]

        async def get(self, job_id: str) -> JobDefinition | None:
            return JobDefinition(**summary.model_dump(), job=job, source={}) if job_id == "j" else None

    now = datetime(2026, 1, 1, 10, 15, tzinfo=UTC)
    listed = asyncio.run(list_jobs(Store(), now)).body["jobs"]  # type: ignore[arg-type]
    assert [j["next_fire_times"][:2] for j in listed] == [
        ["2026-01-01T11:00:00+00:00", "2026-01-01T12:00:00+00:00"],
        [],
    ]
    one = asyncio.run(get_job(Store(), "j", now)).body  # type: ignore[arg-type]
    assert one["next_fire_times"][0] == "2026-01-01T11:00:00+00:00"
