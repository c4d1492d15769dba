"""The run monitor in Debian's Chromium against a real devhost + Azurite: live node states, a failed
task's logs, cancel, repair, filters, validation with JSON paths, the key prompt, not-found pages, and
script in a task key, a parameter and a log line staying text."""

from __future__ import annotations

import re
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e.conftest import FUNCTION_KEY, AppHost, batch_job

playwright = pytest.importorskip("playwright.sync_api")
from playwright.sync_api import Page, expect  # noqa: E402

from tests.browser.chromium import chromium_context, chromium_path  # noqa: E402

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(chromium_path() is None, reason="chromium is not installed (make setup installs it)"),
]

SCRIPT = "<script>window.__pwned = 1</script>"
WAIT_MS = 60_000
PY = sys.executable
expect.set_options(timeout=WAIT_MS)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium_context() as context:
        yield context


@pytest.fixture
def page(browser: Any) -> Iterator[Page]:
    page = browser.new_page()
    page.set_default_timeout(WAIT_MS)
    yield page
    page.close()


def monitor(app_host: AppHost, fragment: str, key: str | None = FUNCTION_KEY) -> str:
    joiner = "&" if "?" in fragment else "?"
    return f"{app_host.launcher.running().base_url}/api/ui/#{fragment}" + (  # type: ignore[union-attr]
        f"{joiner}key={key}" if key else ""
    )


def node(page: Page, task: str) -> Any:
    return page.locator("svg.dag g.node").filter(has=page.locator("title", has_text=f"{task}:"))


def start(app_host: AppHost, definition: dict[str, Any], parameters: dict[str, Any] | None = None) -> str:
    job = app_host.client.register_job(definition)
    return str(app_host.client.start_job(job["job_id"], parameters)["run_id"])


def not_pwned(page: Page) -> None:
    assert page.evaluate("window.__pwned") is None
    assert page.locator("script").count() == 1  # the page's own app.js


def test_watch_a_live_runs_nodes_change_state(app_host: AppHost, page: Page, tmp_path: Path) -> None:
    gate = tmp_path / "go"
    wait = f"{PY} -c \"import pathlib,time\nwhile not pathlib.Path(r'{gate}').exists(): time.sleep(0.1)\""
    run_id = start(app_host, batch_job("ui-live", {"first": wait, "second": f"{PY} -c \"print('two')\""}))
    page.goto(monitor(app_host, f"/runs/{run_id}"))
    expect(node(page, "first")).to_have_attribute("data-state", "RUNNING")
    expect(node(page, "second")).to_have_attribute("data-state", "PENDING")
    assert "key=" not in page.url
    gate.write_text("go")
    expect(node(page, "second")).to_have_attribute("data-state", "SUCCESS")
    expect(node(page, "first")).to_contain_text("succeeded")
    expect(page.locator("#live")).to_contain_text("finished")
    page.screenshot(path=str(tmp_path / "run.png"))


def test_a_failed_tasks_logs_and_script_everywhere_stays_text(app_host: AppHost, page: Page) -> None:
    key = "boom<script>window.__pwned=1"  # no "/": the API refuses it in a task key route
    definition = batch_job("ui-escape", {key: f"{PY} -c \"print('{SCRIPT}'); raise SystemExit(3)\""})
    definition["parameters"] = [{"name": "note", "default": "x"}]
    run_id = start(app_host, definition, {"note": SCRIPT})
    app_host.wait_run_done(run_id)
    page.goto(monitor(app_host, f"/runs/{run_id}"))
    failed = node(page, key)
    expect(failed).to_have_attribute("data-state", "FAILED")
    failed.focus()
    page.keyboard.press("Enter")
    page.get_by_role("button", name="Show logs").click()
    expect(page.locator("pre.log").first).to_contain_text(SCRIPT)
    expect(page.locator("dl.kv dd", has_text=SCRIPT).first).to_be_visible()
    expect(page.locator(".panel h2 code")).to_have_text(key)
    failed_input = page.locator("table.failed-inputs tbody tr")
    expect(failed_input).to_have_count(1)
    expect(failed_input.locator("td").nth(2)).to_have_text("3")  # the command's exit code
    not_pwned(page)


def test_the_timeline_shows_every_attempt_and_the_retry_wait_between(
    app_host: AppHost, page: Page, tmp_path: Path
) -> None:
    tries = tmp_path / "tries"
    flaky = (
        f"{PY} -c \"import pathlib,sys; p=pathlib.Path(r'{tries}'); "
        "n=len(p.read_text()) if p.exists() else 0; p.write_text('x'*(n+1)); sys.exit(0 if n else 5)\""
    )
    definition = batch_job("ui-timeline", {"flaky": flaky})
    definition["tasks"][0]["retry"] = {"max_retries": 1, "min_retry_interval_millis": 1500}
    run_id = start(app_host, definition)
    app_host.wait_run_done(run_id)
    page.goto(monitor(app_host, f"/runs/{run_id}"))
    row = page.locator('.tl-row[data-task="flaky"][data-generation="0"]')
    expect(row.locator(".tl-attempt")).to_have_count(2)
    assert [b.get_attribute("data-state") for b in row.locator(".tl-attempt").all()] == ["FAILED", "SUCCESS"]
    assert [b.text_content() for b in row.locator(".tl-attempt").all()] == ["✗", "✓"]
    retry = row.locator(".tl-retry")
    expect(retry).to_have_count(1)
    expect(retry).to_have_attribute("aria-label", re.compile(r"flaky, retry wait before attempt 2, \d+s"))
    expect(row.locator(".tl-dur")).to_contain_text("2 attempts")
    expect(row.locator(".tl-dur")).to_contain_text("retry wait")


def test_the_trigger_and_the_task_panels_compute(app_host: AppHost, page: Page) -> None:
    from azure.storage.blob import BlobServiceClient

    from jobclusters.run_request import derive_run_id

    folder = f"ui-trigger-{uuid.uuid4().hex[:6]}"
    triggers = [{"kind": "storage_event", "container": "incoming", "prefix": f"{folder}/"}]
    definition = batch_job(folder, {"ingest": f'{PY} -c "print(1)"'}, triggers=triggers)
    job = app_host.client.register_job(definition)
    container = BlobServiceClient.from_connection_string(app_host.connection).get_container_client("incoming")
    if not container.exists():
        container.create_container()
    blob = container.get_blob_client(f"{folder}/in.csv")
    etag = str(blob.upload_blob(b"a\n", overwrite=True)["etag"]).strip('"')
    run_id = derive_run_id(job["job_id"], blob.url, etag)
    app_host.wait_run_done(run_id)
    page.goto(monitor(app_host, f"/runs/{run_id}"))
    expect(page.locator("#trigger-summary")).to_have_text(f"blob incoming/{folder}/in.csv (ETag {etag})")
    expect(page.locator('dl.trigger dd[data-fact="ETag"]')).to_have_text(etag)
    expect(page.locator('dl.trigger dd[data-fact="URL"]')).to_have_text(blob.url)
    node(page, "ingest").click()
    compute = app_host.client.get_run(run_id)["tasks"]["ingest"]["attempt_history"][-1]["compute"]
    shown = page.locator("dl.compute")
    expect(shown.locator('dd[data-fact="kind"]')).to_have_text(compute["kind"])
    expect(shown.locator('dd[data-fact="cluster mode"]')).to_have_text(str(compute["mode"]))
    expect(shown.locator('dd[data-fact="pool or cluster"]')).to_have_text(str(compute["pool_or_cluster"]))
    expect(shown.locator('dd[data-fact="node type"]')).to_have_text(str(compute["node_size"]))

    caller = start(app_host, batch_job("ui-caller", {"only": f'{PY} -c "print(1)"'}))
    page.goto(monitor(app_host, f"/runs/{caller}"))
    expect(page.locator("#trigger-summary")).to_have_text("cli (caller not named)")
    http = requests.post(
        f"{app_host.client.base_url}/api/jobs/ui-caller/runs",
        json={"actor": "ops <script>x</script>"},
        headers={"x-functions-key": FUNCTION_KEY},
        timeout=30,
    ).json()["run_id"]
    page.goto(monitor(app_host, f"/runs/{http}"))
    expect(page.locator('dl.trigger dd[data-fact="caller"]')).to_have_text("ops <script>x</script>")
    not_pwned(page)


def test_cancel_a_run(app_host: AppHost, page: Page) -> None:
    run_id = start(app_host, batch_job("ui-cancel", {"long": f'{PY} -c "import time; time.sleep(120)"'}))
    page.goto(monitor(app_host, f"/runs/{run_id}"))
    expect(node(page, "long")).to_have_attribute("data-state", "RUNNING")
    page.locator("#cancel").click()
    expect(page.locator(".summary .badge").first).to_have_attribute("data-state", "CANCELED")
    expect(page.locator("#live")).to_contain_text("finished")


def test_repair_a_failed_run(app_host: AppHost, page: Page, tmp_path: Path) -> None:
    fixed = tmp_path / "fixed"
    flaky = f"{PY} -c \"import pathlib,sys; sys.exit(0 if pathlib.Path(r'{fixed}').exists() else 4)\""
    run_id = start(app_host, batch_job("ui-repair", {"load": flaky, "report": f'{PY} -c "print(1)"'}))
    app_host.wait_run_done(run_id)
    page.goto(monitor(app_host, f"/runs/{run_id}"))
    expect(node(page, "report")).to_have_attribute("data-state", "UPSTREAM_FAILED")
    fixed.write_text("yes")
    page.locator("#repair-failed").click()
    expect(page.locator(".ok")).to_contain_text("repair 1 started")
    expect(node(page, "report")).to_have_attribute("data-state", "SUCCESS")
    expect(page.locator(".summary .badge").first).to_have_attribute("data-state", "SUCCESS")
    repaired = page.locator('.tl-row[data-task="load"][data-generation="1"]')
    expect(repaired).to_contain_text("load (repair 1)")
    expect(repaired.locator('.tl-attempt[data-state="SUCCESS"]')).to_have_count(1)
    expect(page.locator('.tl-row[data-task="load"][data-generation="0"] .tl-attempt')).to_have_attribute(
        "data-state", "FAILED"
    )


def test_filter_the_runs_list(app_host: AppHost, page: Page) -> None:
    ok = start(app_host, batch_job("ui-filter", {"fine": f'{PY} -c "print(1)"'}))
    bad = start(app_host, batch_job("ui-filter-bad", {"broken": f'{PY} -c "raise SystemExit(2)"'}))
    app_host.wait_run_done(ok)
    app_host.wait_run_done(bad)
    page.goto(monitor(app_host, "/runs"))
    ready = page.locator("main[data-ready]")
    expect(page.locator(f'tr[data-run="{ok}"]')).to_be_visible()
    expect(page.locator(f'tr[data-run="{bad}"]')).to_be_visible()
    page.select_option("#f-status", "FAILED")
    expect(ready).to_have_count(1)
    expect(page.locator(f'tr[data-run="{ok}"]')).to_have_count(0)
    expect(page.locator(f'tr[data-run="{bad}"]')).to_be_visible()
    page.select_option("#f-job", "ui-filter")
    expect(ready).to_have_count(1)
    expect(page.locator(f'tr[data-run="{bad}"]')).to_have_count(0)
    page.select_option("#f-status", "")
    expect(ready).to_have_count(1)
    expect(page.locator(f'tr[data-run="{ok}"]')).to_be_visible()
    assert [s.get_attribute("data-state") for s in page.locator("table.runs .badge").all()] == ["SUCCESS"]


def test_validate_a_bad_definition_shows_its_json_path(app_host: AppHost, page: Page) -> None:
    page.goto(monitor(app_host, "/validate"))
    bad = batch_job("ui-bad", {"a": "echo a"})
    bad["tasks"][0]["retry"] = {"max_retries": "many"}
    page.fill("#definition", __import__("json").dumps(bad))
    page.locator("#validate").click()
    expect(page.locator(".error")).to_have_attribute("data-code", "invalid_definition")
    expect(page.locator(".problems .path").first).to_have_text("$.tasks[0].retry.max_retries")


def test_a_wrong_key_asks_again_and_unknown_ids_are_not_found(app_host: AppHost, page: Page) -> None:
    page.goto(monitor(app_host, "/runs", key="wrong"))
    expect(page.locator('[data-page="key"]')).to_be_visible()
    page.fill("#key", FUNCTION_KEY)
    page.locator('[data-page="key"] button').click()
    expect(page.locator('[data-page="runs"]')).to_be_visible()
    page.goto(monitor(app_host, "/runs/run-000000000000000000000000"))
    expect(page.locator('[data-page="notfound"]')).to_be_visible()
    page.goto(monitor(app_host, "/jobs/no-such-job"))
    expect(page.locator('[data-page="notfound"]')).to_be_visible()


def test_the_cli_prints_a_url_that_opens_the_run(app_host: AppHost, page: Page) -> None:
    from tests.e2e.test_cli import cli

    run_id = start(app_host, batch_job("ui-cli", {"only": f'{PY} -c "print(1)"'}))
    done = cli(app_host, "ui", run_id, "--print-url")
    assert done.returncode == 0, done.stderr
    (url,) = done.stdout.splitlines()
    assert url == f"{app_host.client.base_url}/api/ui/#/runs/{run_id}?key={FUNCTION_KEY}"
    page.goto(url)
    expect(node(page, "only")).to_have_attribute("data-state", "SUCCESS")


def test_the_jobs_page_lists_a_job_and_shows_its_definition_beside_its_source(
    app_host: AppHost, page: Page
) -> None:
    yearly = {"quartz_cron_expression": "0 0 3 1 JAN ?", "timezone_id": "UTC"}  # never fires during a test
    job = app_host.client.register_job(batch_job("ui-jobs", {"step": "echo step"}, schedule=yearly))
    run_id = str(app_host.client.start_job(job["job_id"])["run_id"])
    app_host.wait_run_done(run_id)
    fires = app_host.client.get_job(job["job_id"])["next_fire_times"]
    assert len(fires) == 5 and all(f.endswith("-01-01T03:00:00+00:00") for f in fires), fires
    page.goto(monitor(app_host, "/jobs"))
    row = page.locator(f'tr[data-job="{job["job_id"]}"]')
    expect(row.locator(".schedule code")).to_have_text("0 0 3 1 JAN ? in UTC")
    expect(row.locator(".next-fires")).to_contain_text(f"next: {fires[0][:10]} 03:00:00 UTC")
    expect(row.locator(".results")).to_have_attribute("data-results", "1 of 1 succeeded")
    expect(row.locator(".results .badge")).to_have_attribute("data-state", "SUCCESS")
    row.get_by_role("link", name=job["job_id"]).click()
    expect(page.locator("ol.next-fires li")).to_have_count(5)
    expect(page.locator("p.results")).to_contain_text("last 1: 1 of 1 succeeded")
    expect(page.locator('[data-page="job"] h1')).to_contain_text(job["job_id"])
    expect(page.locator("pre.json").first).to_contain_text('"step"')
    expect(page.locator("pre.json").nth(1)).to_contain_text("echo step")
