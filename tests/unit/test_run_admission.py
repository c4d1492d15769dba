"""`run_job` admits only requests signed by this app's triggers and valid as a submitted definition."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from jobclusters.run_admission import admission_problems, sign, signed_input
from jobclusters.run_request import RunRequest, TriggerInfo
from jobclusters.run_signing_key import MissingSigningKey, local_key, run_signing_key
from jobclusters.settings import Settings
from jobclusters.spec import Job

KEY = b"k" * 32


def _request(command: str = "echo hi") -> RunRequest:
    job = Job.model_validate(
        {
            "name": "j",
            "tasks": [{"key": "t", "payload": {"kind": "command", "command_line": command}}],
        }
    )
    return RunRequest(run_id="run-1", job_id="j", job=job, trigger=TriggerInfo(kind="http"))


def test_a_request_signed_with_the_key_is_admitted() -> None:
    assert admission_problems(signed_input(_request(), KEY), KEY) == []


def test_an_unsigned_request_is_refused() -> None:
    payload = {"request": _request().model_dump(mode="json")}
    assert admission_problems(payload, KEY) == [
        "the request is not signed: only this app's triggers may start run_job"
    ]


@pytest.mark.parametrize(
    "change",
    [
        lambda p: p["request"]["job"]["tasks"][0]["payload"].update(command_line="rm -rf /"),
        lambda p: p["request"].update(parameters={"x": "1"}),
        lambda p: p.update(signature=sign(_request(), b"another key")),
    ],
)
def test_a_changed_request_or_another_key_is_refused(change: object) -> None:
    payload = signed_input(_request(), KEY)
    change(payload)  # type: ignore[operator]
    assert admission_problems(payload, KEY) == [
        "the request signature does not match: only this app's triggers may start run_job"
    ]


def test_a_signed_request_is_still_validated_like_a_submitted_definition() -> None:
    problems = admission_problems(signed_input(_request("mysql -u app --password=hunter2"), KEY), KEY)
    assert len(problems) == 1 and problems[0].startswith("$.tasks[0].payload.command_line")
    assert "hunter2" not in problems[0]


def test_not_a_run_request_is_refused_without_echoing_it() -> None:
    problems = admission_problems({"request": {"secret": "hunter2"}, "signature": "x"}, KEY)
    assert len(problems) == 1 and "hunter2" not in problems[0]


def test_the_local_key_is_generated_once_and_shared_by_concurrent_first_users(tmp_path: Path) -> None:
    keys: list[bytes] = []
    threads = [threading.Thread(target=lambda: keys.append(local_key(tmp_path))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(keys)) == 1 and len(keys[0]) == 64
    assert (tmp_path / "run-signing.key").stat().st_mode & 0o077 == 0
    assert [p.name for p in tmp_path.iterdir()] == ["run-signing.key"]


def test_the_setting_wins_and_azure_mode_requires_it(tmp_path: Path) -> None:
    configured = Settings.from_mapping({"JOBCLUSTERS_RUN_SIGNING_KEY": "from-settings"})
    assert run_signing_key(configured) == b"from-settings"
    local = Settings.from_mapping({"JOBCLUSTERS_STATE_DIR": str(tmp_path)})
    assert run_signing_key(local) == (tmp_path / "run-signing.key").read_text().encode()
    with pytest.raises(MissingSigningKey):
        run_signing_key(Settings.from_mapping({"JOBCLUSTERS_MODE": "azure"}))
