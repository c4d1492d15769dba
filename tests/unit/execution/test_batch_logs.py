from __future__ import annotations

import pytest

from jobclusters.execution.batch_logs import log_links, log_output_file, log_prefix, logs_container_url
from jobclusters.execution.batch_mapping import task_spec
from jobclusters.services import factory
from jobclusters.settings import Settings
from jobclusters.spec.model import CommandPayload

ACCOUNT = "http://127.0.0.1:5555/devstoreaccount1"
SAS_URL = "https://acct.blob.core.windows.net/logs?sv=2024&sig=secret"


def test_every_fanned_out_task_uploads_its_std_files_from_the_task_dir_on_completion() -> None:
    prefix = log_prefix("run-1", "clean", 2)
    spec = task_spec(
        CommandPayload(command_line="echo hi"),
        "clean-000001",
        1,
        "x",
        extra_output_files=[log_output_file(f"{ACCOUNT}/logs", prefix, "clean-000001")],
    )
    assert spec.to_rest()["outputFiles"] == [
        {
            "filePattern": "../std*.txt",
            "destination": {
                "container": {
                    "containerUrl": f"{ACCOUNT}/logs",
                    "path": "run-1/clean/attempt-2/clean-000001",
                }
            },
            "uploadOptions": {"uploadCondition": "taskCompletion"},
        }
    ]


def test_log_links_name_the_uploaded_blobs_without_the_sas() -> None:
    links = log_links(SAS_URL, "run-1/clean/attempt-1", "clean-000000")
    assert links == {
        "stdout.txt": "https://acct.blob.core.windows.net/logs/run-1/clean/attempt-1/clean-000000/stdout.txt",
        "stderr.txt": "https://acct.blob.core.windows.net/logs/run-1/clean/attempt-1/clean-000000/stderr.txt",
    }


def test_the_logs_container_is_the_configured_one_else_local_storage_else_none_on_azure(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    configured = Settings.from_mapping({"JOBCLUSTERS_MODE": "azure", "JOBCLUSTERS_BATCH_LOGS_URL": SAS_URL})
    assert logs_container_url(configured.batch_logs_url, ACCOUNT) == SAS_URL
    assert logs_container_url(None, ACCOUNT + "/") == f"{ACCOUNT}/jobclusters-batch-logs"
    assert logs_container_url(None, None) is None

    class Blobs:
        account_url = ACCOUNT

    for mode, expected in (("local", f"{ACCOUNT}/jobclusters-batch-logs"), ("azure", None)):
        monkeypatch.setenv("JOBCLUSTERS_MODE", mode)
        monkeypatch.delenv("JOBCLUSTERS_BATCH_LOGS_URL", raising=False)
        with factory.overridden(blobs=Blobs()):
            assert factory.batch_logs_container() == expected
    monkeypatch.setenv("JOBCLUSTERS_BATCH_LOGS_URL", SAS_URL)
    with factory.overridden():
        assert factory.batch_logs_container() == SAS_URL
