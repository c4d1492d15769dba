"""The HTTP API through a real devhost process: validation errors, runs, cancel and repair."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from jobclusters.client.api import ApiClientError
from jobclusters.tracking.table_store import TableRunStore
from tests.e2e.conftest import AppHost, batch_job
from tests.eventually import eventually

pytestmark = pytest.mark.integration


def test_an_invalid_definition_is_refused_with_the_json_path_of_each_error(app_host: AppHost) -> None:
    definition = batch_job("broken", {"a": "true"})
    definition["tasks"][0]["depends_on"] = [{"task_key": "nowhere"}]
    definition["tasks"].append({"key": "b", "retry": {"max_retries": "many"}})
    with pytest.raises(ApiClientError) as caught:
        app_host.client.register_job(definition)
    error = caught.value
    assert error.status == 400 and error.code == "invalid_definition"
    paths = {p["path"] for p in error.problems}
    assert any(p.startswith("$.definition.tasks[1].retry.max_retries") for p in paths), paths
    # the same document posted bare (no envelope) reports paths from its own root
    response = requests.post(
        f"{app_host.client.base_url}/api/jobs",
        json=definition,
        headers={"x-functions-key": app_host.client.key or ""},
        timeout=10,
    )
    assert response.status_code == 400
    bare = {p["path"] for p in response.json()["error"]["problems"]}
    assert any(p.startswith("$.tasks[1].retry.max_retries") for p in bare), bare


def test_requests_without_the_function_key_are_refused(app_host: AppHost) -> None:
    response = requests.get(f"{app_host.client.base_url}/api/jobs", timeout=10)
    assert response.status_code == 401


def test_a_body_that_is_not_json_gets_a_json_error(app_host: AppHost) -> None:
    response = requests.post(
        f"{app_host.client.base_url}/api/jobs",
        data=b"{nope",
        headers={"x-functions-key": app_host.client.key or "", "content-type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"


def test_a_registered_job_runs_to_success_with_task_rows_in_table_storage(app_host: AppHost) -> None:
    client = app_host.client
    job = client.register_job(
        batch_job(
            "http-two-steps",
            {"first": "python3 -c \"print('one')\"", "second": "python3 -c \"print('two')\""},
            parameters=[{"name": "day"}],
        )
    )
    assert job["task_keys"] == ["first", "second"]
    started = client.start_job(job["job_id"], {"day": "2024-01-01"}, idempotency_key="http-two-steps-1")
    assert started["status_urls"]["statusQueryGetUri"].startswith(client.base_url)
    again = client.start_job(job["job_id"], {"day": "2024-01-01"}, idempotency_key="http-two-steps-1")
    assert again["run_id"] == started["run_id"] and again["started"] is False

    view = app_host.wait_run_done(started["run_id"])
    assert view["result"] == "SUCCESS"
    assert {k: t["state"] for k, t in view["tasks"].items()} == {"first": "SUCCESS", "second": "SUCCESS"}
    assert view["parameters"] == {"day": "2024-01-01"}

    store = TableRunStore(app_host.connection, table_prefix=app_host.table_prefix)
    record, tasks = store.get_run_with_tasks(started["run_id"])
    assert record is not None and record.job_id == job["job_id"]
    assert {t.task_key for t in tasks} == {"first", "second"}

    listed = client.list_runs(job=job["job_id"])
    assert started["run_id"] in [r["run_id"] for r in listed["runs"]]


def test_jobs_can_be_listed_read_and_deleted(app_host: AppHost) -> None:
    client = app_host.client
    client.register_job(batch_job("short-lived", {"only": "true"}), job_id="short-lived")
    assert "short-lived" in [j["job_id"] for j in client.list_jobs()]
    assert client.get_job("short-lived")["source"]["name"] == "short-lived"
    client.delete_job("short-lived")
    with pytest.raises(ApiClientError) as caught:
        client.get_job("short-lived")
    assert caught.value.status == 404 and caught.value.code == "job_not_found"


def test_cancel_stops_a_running_job(app_host: AppHost) -> None:
    client = app_host.client
    job = client.register_job(batch_job("slow", {"sleepy": "sleep 60", "never": "true"}))
    run_id = client.start_job(job["job_id"])["run_id"]
    eventually(
        lambda: client.get_run(run_id)["tasks"].get("sleepy", {}).get("state") == "RUNNING",
        timeout=60,
        interval=0.25,
        what="the task to run",
    )
    assert client.cancel_run(run_id)["cancel_requested"] is True
    view = app_host.wait_run_done(run_id, timeout=60)
    assert view["result"] == "CANCELED"
    assert view["tasks"]["never"]["state"] != "SUCCESS"


def test_start_answers_link_the_cancel_event_never_a_terminate_and_a_cancel_frees_the_slot(
    app_host: AppHost,
) -> None:
    """Terminating would leave the job's only concurrency slot taken: the next run would be SKIPPED."""
    client = app_host.client
    job = client.register_job(batch_job("one-at-a-time", {"sleepy": "sleep 60"}, max_concurrent_runs=1))
    for round_ in range(2):
        started = client.start_job(job["job_id"], idempotency_key=f"one-at-a-time-{round_}")
        links = started["status_urls"]
        assert "terminatePostUri" not in links
        assert links["cancelPostUri"] == f"{client.base_url}/api/runs/{started['run_id']}/cancel"
        run_id = started["run_id"]
        eventually(
            lambda: client.get_run(run_id)["tasks"]["sleepy"]["state"] == "RUNNING",  # noqa: B023
            timeout=60,
            interval=0.25,
            what=f"run {round_ + 1} to hold the slot",
        )
        response = requests.post(
            links["cancelPostUri"], headers={"x-functions-key": client.key or ""}, json={}, timeout=10
        )
        assert response.status_code == 202
        assert app_host.wait_run_done(run_id, timeout=60)["result"] == "CANCELED"


def test_repair_reruns_only_the_failed_task_and_its_dependents(app_host: AppHost, tmp_path: Path) -> None:
    client = app_host.client
    marker = tmp_path / "fixed"
    job = client.register_job(
        batch_job(
            "repairable",
            {
                "extract": "python3 -c \"print('extract')\"",
                "load": f"test -e {marker}",
                "report": "python3 -c \"print('report')\"",
            },
        )
    )
    run_id = client.start_job(job["job_id"])["run_id"]
    first = app_host.wait_run_done(run_id)
    assert first["result"] == "FAILED"
    assert first["tasks"]["load"]["state"] == "FAILED"
    assert first["tasks"]["report"]["state"] == "UPSTREAM_FAILED"

    marker.write_text("ok")
    repair = client.repair_run(run_id)
    assert repair["repair_number"] == 1 and repair["rerun_tasks"] == ["load", "report"]
    repaired = app_host.wait_run_done(repair["run_id"])
    assert repaired["result"] == "SUCCESS"
    assert repaired["repair"]["of_run_id"] == run_id
    with pytest.raises(ApiClientError) as caught:
        client.repair_run(run_id)
    assert caught.value.code == "nothing_to_repair"


def test_repair_keeps_the_outcome_of_a_condition_task_it_does_not_rerun(
    app_host: AppHost, tmp_path: Path
) -> None:
    """`{{job.repair_count}} == 0` is true in the run and false in its repair: only a kept outcome keeps
    the repair on the branch the original run took."""
    client = app_host.client
    marker = tmp_path / "fixed"
    definition = batch_job(
        "branch-kept",
        {"deploy": f"test -e {marker}", "fallback": "python3 -c \"print('fallback')\""},
    )
    deploy, fallback = definition["tasks"]
    deploy["depends_on"] = [{"task_key": "first_try", "outcome": "true"}]
    fallback["depends_on"] = [{"task_key": "first_try", "outcome": "false"}]
    definition["tasks"].insert(
        0,
        {
            "key": "first_try",
            "payload": {
                "kind": "condition",
                "op": "EQUAL_TO",
                "left": "{{job.repair_count}}",
                "right": "0",
            },
        },
    )
    job = client.register_job(definition)
    run_id = client.start_job(job["job_id"])["run_id"]
    first = app_host.wait_run_done(run_id)
    assert {k: (t["state"], t.get("outcome")) for k, t in first["tasks"].items()} == {
        "first_try": ("SUCCESS", "true"),
        "deploy": ("FAILED", None),
        "fallback": ("EXCLUDED", None),
    }

    marker.write_text("ok")
    repair = client.repair_run(run_id)
    assert repair["rerun_tasks"] == ["deploy"]
    repaired = app_host.wait_run_done(repair["run_id"])
    assert repaired["result"] == "SUCCESS"
    assert {k: (t["state"], t.get("outcome")) for k, t in repaired["tasks"].items()} == {
        "first_try": ("SUCCESS", "true"),
        "deploy": ("SUCCESS", None),
        "fallback": ("EXCLUDED", None),
    }


def test_an_inline_definition_runs_without_registration(app_host: AppHost) -> None:
    response = requests.post(
        f"{app_host.client.base_url}/api/runs",
        json={"definition": batch_job("inline-one", {"only": "true"}), "parameters": {}},
        headers={"x-functions-key": app_host.client.key or ""},
        timeout=10,
    )
    assert response.status_code == 202, response.text
    assert response.headers["Location"].startswith(app_host.client.base_url)
    view = app_host.wait_run_done(response.json()["run_id"])
    assert view["result"] == "SUCCESS" and view["job_id"] == "inline-one"
    assert "inline-one" not in [j["job_id"] for j in app_host.client.list_jobs()]


def test_a_run_that_does_not_exist_is_a_json_404(app_host: AppHost) -> None:
    with pytest.raises(ApiClientError) as caught:
        app_host.client.get_run("run-000000000000000000000000")
    assert caught.value.status == 404 and caught.value.code == "run_not_found"


def test_run_listings_page_with_a_continuation_token(app_host: AppHost) -> None:
    client = app_host.client
    job = client.register_job(batch_job("paged", {"only": "true"}))
    first = client.start_job(job["job_id"], idempotency_key="paged-1")["run_id"]
    app_host.wait_run_done(first)  # max_concurrent_runs is 1: a run started meanwhile would be skipped
    second = client.start_job(job["job_id"], idempotency_key="paged-2")["run_id"]
    app_host.wait_run_done(second)
    page = client.list_runs(job=job["job_id"], limit=1)
    assert len(page["runs"]) == 1 and page["continuation"]
    rest = client.list_runs(job=job["job_id"], limit=1, continuation=page["continuation"])
    assert {page["runs"][0]["run_id"], rest["runs"][0]["run_id"]} == {first, second}
    done = client.list_runs(status="SUCCESS", limit=200)
    assert {first, second} <= {r["run_id"] for r in done["runs"]}
    with pytest.raises(ApiClientError) as caught:
        client.list_runs(status="SOMETIMES")
    assert caught.value.status == 400 and caught.value.problems[0]["path"] == "query.status"


def test_a_start_with_a_parameter_the_job_does_not_define_answers_400_at_its_path(app_host: AppHost) -> None:
    client = app_host.client
    job = client.register_job(batch_job("strict-params", {"only": "true"}, parameters=[{"name": "day"}]))
    with pytest.raises(ApiClientError) as caught:
        client.start_job(job["job_id"], {"day": "1", "nope": "1"})
    assert caught.value.status == 400 and caught.value.code == "unknown_parameter"
    assert caught.value.problems == [
        {
            "path": "$.parameters.nope",
            "message": "job 'strict-params' has no parameter 'nope' (defined: day)",
            "code": "unknown-parameter",
        }
    ]
    assert client.list_runs(job=job["job_id"])["runs"] == []
