"""run_job_task / ExecutePipeline through devhost + Azurite: the child is a run of its own, linked both ways;
the parent task follows its result; canceling the parent cancels the child; a job that runs itself is
refused; an ADF git layout resolves `pipeline/<referenceName>.json` beside the running pipeline."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import TAGS, AppHost, batch_job
from tests.eventually import eventually

pytestmark = pytest.mark.integration


def _unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:6]}"


def _parent(name: str, child_ref: str, **payload: Any) -> dict[str, Any]:
    return {
        "format": "jobclusters/v1",
        "name": name,
        "tags": TAGS,
        "tasks": [{"key": "call", "payload": {"kind": "run_job", "job_id": child_ref, **payload}}],
    }


def _child_of(host: AppHost, parent_view: dict[str, Any], key: str = "call") -> dict[str, Any]:
    child_id = parent_view["tasks"][key]["child_run_id"]
    assert child_id, parent_view["tasks"][key]
    return host.wait_run_done(child_id)


def test_a_run_job_task_starts_a_linked_child_run_and_follows_its_result(app_host: AppHost) -> None:
    client = app_host.client
    child_name = _unique("Child Job")
    child = client.register_job(
        batch_job(child_name, {"hello": "python3 -c \"print('from the child')\""}), job_id=_unique("kid")
    )
    parent = client.register_job(_parent(_unique("parent"), child_name))  # by name, not id
    run_id = client.start_job(parent["job_id"])["run_id"]
    view = app_host.wait_run_done(run_id)
    assert (view["result"], view["tasks"]["call"]["state"]) == ("SUCCESS", "SUCCESS")

    kid = _child_of(app_host, view)
    assert kid["run_id"] != run_id
    assert (kid["job_id"], kid["result"], kid["tasks"]["hello"]["state"]) == (
        child["job_id"],
        "SUCCESS",
        "SUCCESS",
    )
    assert kid["trigger"]["kind"] == "run_job"
    assert kid["trigger"]["detail"]["parent_run_id"] == run_id
    assert kid["trigger"]["detail"]["parent_task_key"] == "call"
    listed = {r["run_id"]: r for r in client.list_runs(job_id=child["job_id"])["runs"]}
    assert listed[kid["run_id"]]["trigger_kind"] == "run_job"


def test_a_failing_child_fails_the_parent_task_with_the_childs_reason(app_host: AppHost) -> None:
    client = app_host.client
    child = client.register_job(
        batch_job(_unique("failing-kid"), {"boom": 'python3 -c "raise SystemExit(4)"'})
    )
    parent = client.register_job(_parent(_unique("parent"), child["job_id"]))
    view = app_host.wait_run_done(client.start_job(parent["job_id"])["run_id"])
    task = view["tasks"]["call"]
    assert (view["result"], task["state"]) == ("FAILED", "FAILED")
    kid = _child_of(app_host, view)
    assert kid["result"] == "FAILED"
    assert kid["run_id"] in task["message"] and "FAILED" in task["message"]


def test_canceling_the_parent_cancels_the_child(app_host: AppHost) -> None:
    client = app_host.client
    child = client.register_job(
        batch_job(_unique("slow-kid"), {"sleep": 'python3 -c "import time; time.sleep(120)"'})
    )
    parent = client.register_job(_parent(_unique("parent"), child["job_id"]))
    run_id = client.start_job(parent["job_id"])["run_id"]

    def child_running() -> str | None:
        child_id = client.get_run(run_id)["tasks"].get("call", {}).get("child_run_id")
        if not child_id:
            return None
        kid = client.get_run(child_id)
        return child_id if kid["tasks"].get("sleep", {}).get("state") == "RUNNING" else None

    child_id = eventually(child_running, timeout=60, interval=0.25, what="the child's command to run")
    client.cancel_run(run_id, reason="enough")
    assert app_host.wait_run_done(run_id)["result"] == "CANCELED"
    kid = app_host.wait_run_done(child_id, timeout=60)
    assert kid["result"] == "CANCELED"
    assert run_id in (kid["message"] or "") and "enough" in (kid["message"] or "")
    assert kid["tasks"]["sleep"]["state"] == "CANCELED"


def test_a_job_that_runs_itself_is_refused_at_start(app_host: AppHost) -> None:
    client = app_host.client
    a_id, b_id = _unique("loop-a"), _unique("loop-b")
    client.register_job(_parent(a_id, b_id), job_id=a_id)
    client.register_job(_parent(b_id, a_id), job_id=b_id)
    view = app_host.wait_run_done(client.start_job(a_id)["run_id"])
    assert view["result"] == "FAILED"
    kid = _child_of(app_host, view)
    message = kid["tasks"]["call"]["message"]
    assert "runs itself" in message and f"{a_id} -> {b_id} -> {a_id}" in message
    assert "child_run_id" not in kid["tasks"]["call"] or kid["tasks"]["call"]["child_run_id"] is None


def _pipeline(name: str, activities: list[dict[str, Any]], **props: Any) -> dict[str, Any]:
    return {"name": name, "properties": {"activities": activities, **props}}


def test_execute_pipeline_runs_the_pipeline_beside_it_in_a_git_layout(
    app_host: AppHost, tmp_path: Path
) -> None:
    folder = tmp_path / "factory" / "pipeline"
    folder.mkdir(parents=True)
    (folder / "child_fails.json").write_text(
        json.dumps(
            _pipeline(
                "child_fails",
                [
                    {
                        "name": "stop",
                        "type": "Fail",
                        "typeProperties": {"message": "no data", "errorCode": "E1"},
                    }
                ],
                parameters={"day": {"type": "string"}},
            )
        )
    )
    (folder / "child_ok.json").write_text(
        json.dumps(batch_job("child_ok", {"ok": "python3 -c \"print('ok')\""}))
    )
    parent = _pipeline(
        _unique("parent"),
        [
            {
                "name": "run_ok",
                "type": "ExecutePipeline",
                "typeProperties": {"pipeline": {"referenceName": "child_ok", "type": "PipelineReference"}},
            },
            {
                "name": "run_failing",
                "type": "ExecutePipeline",
                "dependsOn": [{"activity": "run_ok", "dependencyConditions": ["Succeeded"]}],
                "typeProperties": {
                    "pipeline": {"referenceName": "child_fails", "type": "PipelineReference"},
                    "parameters": {"day": "2026-01-01"},
                    "waitOnCompletion": True,
                },
            },
        ],
        annotations=[f"{k}={v}" for k, v in TAGS.items()],
    )
    client = app_host.client
    registered = client.register_job(parent, base_dir=str(folder), format="adf")
    view = app_host.wait_run_done(client.start_job(registered["job_id"])["run_id"])
    assert view["tasks"]["run_ok"]["state"] == "SUCCESS"
    assert view["tasks"]["run_failing"]["state"] == "FAILED"
    assert "E1: no data" in view["tasks"]["run_failing"]["message"]
    failing = _child_of(app_host, view, "run_failing")
    assert failing["parameters"] == {"day": "2026-01-01"}
    assert failing["trigger"]["detail"]["parent_task_key"] == "run_failing"


def test_a_foreach_of_execute_pipeline_runs_every_child_at_once(app_host: AppHost, tmp_path: Path) -> None:
    """An ADF pipeline without `concurrency` has no run limit: three children of one pipeline started side
    by side by a ForEach all run (none is skipped as over a limit), each with its own parameter. Ground
    truth: the file each child's command appended to."""
    folder = tmp_path / "factory" / "pipeline"
    folder.mkdir(parents=True)
    said = tmp_path / "said"
    echo = f"@concat('echo ', pipeline().parameters.region, ' >> {said}')"
    child = _pipeline(
        "child_says",
        [
            {
                "name": "say",
                "type": "Custom",
                "linkedServiceName": {"referenceName": "AzureBatch", "type": "LinkedServiceReference"},
                "typeProperties": {"command": {"value": echo, "type": "Expression"}},
            }
        ],
        parameters={"region": {"type": "string"}},
    )
    (folder / "child_says.json").write_text(json.dumps(child))
    call = {
        "name": "call",
        "type": "ExecutePipeline",
        "typeProperties": {
            "pipeline": {"referenceName": "child_says", "type": "PipelineReference"},
            "parameters": {"region": {"value": "@item()", "type": "Expression"}},
        },
    }
    items = {"value": "@createArray('eu', 'us', 'ap')", "type": "Expression"}
    parent = _pipeline(
        _unique("fan"),
        [{"name": "each", "type": "ForEach", "typeProperties": {"items": items, "activities": [call]}}],
        annotations=[f"{k}={v}" for k, v in TAGS.items()],
    )
    client = app_host.client
    registered = client.register_job(parent, base_dir=str(folder), format="adf")

    view = app_host.wait_run_done(client.start_job(registered["job_id"])["run_id"], timeout=120)

    assert view["result"] == "SUCCESS", view["tasks"]["each"]
    assert [i["state"] for i in view["tasks"]["each"]["iterations"]] == ["SUCCESS"] * 3
    assert sorted(said.read_text().split()) == ["ap", "eu", "us"]


def test_the_cli_runs_a_child_from_the_file_beside_and_refuses_files_that_run_themselves(
    app_host: AppHost, tmp_path: Path
) -> None:
    from tests.e2e.test_cli import cli

    child = batch_job("cli_child", {"hi": "python3 -c \"print('child')\""})
    (tmp_path / "cli_child.json").write_text(json.dumps(child))
    parent = _parent(_unique("cli-parent"), "cli_child")
    (tmp_path / "parent.json").write_text(json.dumps(parent))
    done = cli(app_host, "run", str(tmp_path / "parent.json"), "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    last = json.loads(done.stdout.strip().splitlines()[-1])
    kid = app_host.wait_run_done(last["tasks"]["call"]["child_run_id"])
    assert (kid["job_id"], kid["result"]) == ("cli_child", "SUCCESS")

    (tmp_path / "loop_a.json").write_text(json.dumps(_parent("loop_a", "loop_b")))
    (tmp_path / "loop_b.json").write_text(json.dumps(_parent("loop_b", "loop_a")))
    refused = cli(app_host, "run", str(tmp_path / "loop_a.json"), "--json")
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert (
        "$.tasks[0].payload.job_id: 'loop_b' runs this job again (loop_b.json leads back to loop_a.json)"
        in (refused.stdout + refused.stderr)
    )
