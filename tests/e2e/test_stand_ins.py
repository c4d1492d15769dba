"""Existing compute on the embedded default: an ADF Custom activity on an Azure Batch linked service (and a
native task on a named Batch pool) runs on a local stand-in pool created on first use, named as such in
the run view and the task rows; the pool stays for the next run (nobody owns it)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.e2e.conftest import TAGS, AppHost

pytestmark = pytest.mark.integration


def _custom_pipeline(name: str, linked_service: str) -> dict[str, Any]:
    return {
        "name": name,
        "properties": {
            "activities": [
                {
                    "name": "crunch",
                    "type": "Custom",
                    "linkedServiceName": {"referenceName": linked_service, "type": "LinkedServiceReference"},
                    "typeProperties": {"command": "python3 -c \"print('on the stand-in')\""},
                }
            ],
            "annotations": [f"{k}:{v}" for k, v in TAGS.items()],
        },
    }


def test_an_adf_custom_activity_runs_on_a_stand_in_for_its_linked_batch_pool(app_host: AppHost) -> None:
    client = app_host.client
    linked = "AzureBatch" + uuid.uuid4().hex[:6]
    job = client.register_job(_custom_pipeline("custom_" + uuid.uuid4().hex[:6], linked), format="adf")
    for _ in range(2):  # the second run finds the stand-in the first one created
        view = app_host.wait_run_done(client.start_job(job["job_id"])["run_id"])
        task = view["tasks"]["crunch"]
        assert (view["result"], task["state"]) == ("SUCCESS", "SUCCESS"), task
        assert task["compute"] == f"batch local stand-in for existing pool {linked} (1 x standard_d2s_v3)"
        row = task["attempt_history"][-1]
        assert row["compute"]["pool_or_cluster"] == linked
        assert row["compute"]["mode"] == "existing (local stand-in)"
