"""At host start the app logs one line per missing or malformed setting, never a value."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from activities import settings_check
from jobclusters.services import factory
from jobclusters.spec.model import Job
from jobclusters.tracking.definitions import JobDefinition

SPARK = {"key": "train", "payload": {"kind": "spark_python", "python_file": "t.py"}}


class Definitions:
    """The registered jobs, as the definitions store answers them."""

    def __init__(self, *jobs: Job) -> None:
        self.jobs = {job.name: job for job in jobs}

    async def list(self) -> list[Any]:
        return [await self.get(job_id) for job_id in self.jobs]

    async def get(self, job_id: str) -> JobDefinition:
        return JobDefinition(
            job_id=job_id,
            name=job_id,
            format="jobclusters/v1",
            registered_at="2026-01-01T00:00:00Z",
            updated_at="2026-01-01T00:00:00Z",
            job=self.jobs[job_id],
            source={},
        )


@pytest.fixture
def settings_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    for name in ("DATABRICKS_HOST", "AzureWebJobsStorage", "JOBCLUSTERS_MODE"):
        monkeypatch.delenv(name, raising=False)
    factory.reset()
    yield monkeypatch
    factory.reset()


def _lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == settings_check.__name__]


def test_local_mode_logs_a_malformed_storage_connection_without_its_value(
    settings_env: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    settings_env.setenv("AzureWebJobsStorage", "AccountKey=hush")
    with caplog.at_level(logging.WARNING):
        assert settings_check.log_problems_at_host_start() is None
    [line] = _lines(caplog)
    assert line.startswith("settings check: app setting AzureWebJobsStorage is malformed")
    assert "hush" not in line


def test_azure_mode_logs_one_line_per_problem_of_the_registered_jobs(
    settings_env: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    settings_env.setenv("JOBCLUSTERS_MODE", "azure")
    settings_env.setenv("JOBCLUSTERS_RUN_SIGNING_KEY", "a-signing-key")
    factory.override("definitions", Definitions(Job.model_validate({"name": "etl", "tasks": [SPARK]})))
    with caplog.at_level(logging.WARNING):
        thread = settings_check.log_problems_at_host_start()
        assert thread is not None
        thread.join(timeout=30)
    assert [line.split(" (")[0] for line in _lines(caplog)] == [
        "settings check: etl: app setting DATABRICKS_HOST is missing"
    ]


def test_a_store_that_cannot_be_read_is_one_line_too(
    settings_env: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    settings_env.setenv("JOBCLUSTERS_MODE", "azure")
    settings_env.setenv("JOBCLUSTERS_RUN_SIGNING_KEY", "a-signing-key")

    class Unreachable(Definitions):
        async def list(self) -> list[Any]:
            raise ConnectionError("/srv/secret/path")

    factory.override("definitions", Unreachable())
    with caplog.at_level(logging.WARNING):
        thread = settings_check.log_problems_at_host_start()
        assert thread is not None
        thread.join(timeout=30)
    assert _lines(caplog) == ["settings check: the registered jobs could not be read (ConnectionError)"]
