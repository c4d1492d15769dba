"""More failed inputs than a Durable payload lists: the count, the first few, and a blob with all of them,
which a repair plans from (issue 11 defect 5). The ground truth is the file each input's run writes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from jobclusters.failed_inputs import MAX_LISTED, FailedInputs
from jobclusters.run_request import RepairInfo
from jobclusters.services import factory
from jobclusters.spec.model import TaskState
from tests.integration.orchestrators.harness import AppEnv, request_for, run_to_end, with_engine
from tests.integration.orchestrators.test_batch_fanout import fanout_task

pytestmark = pytest.mark.integration

ITEMS = [f"bad-{i:02d}" if i % 7 else f"ok-{i:02d}" for i in range(14)]
FAILED = [i for i, value in enumerate(ITEMS) if value.startswith("bad")]


def test_more_failures_than_listed_are_counted_and_kept_whole_in_a_blob_the_repair_plans_from(
    app_env: AppEnv, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    job = {"name": "many-failures", "tasks": [fanout_task(out, {"items": ITEMS})]}
    first = request_for(job)

    async def scenario(engine: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        ran = await run_to_end(engine, first)
        failed = FailedInputs.model_validate(ran["tasks"]["fan"]["failed_inputs"])
        for written in out.iterdir():
            written.unlink()
        repair = request_for(
            job,
            repair=RepairInfo(
                of_run_id=first.run_id,
                number=1,
                rerun_tasks=["fan"],
                previous_states={"fan": TaskState.FAILED},
                rerun_inputs={"fan": failed.selection()},
            ),
        )
        return ran, await run_to_end(engine, repair)

    ran, repaired = with_engine(app_env, scenario)
    fan = ran["tasks"]["fan"]
    failed = FailedInputs.model_validate(fan["failed_inputs"])
    assert failed.count == len(FAILED) > MAX_LISTED
    assert [f.index for f in failed.listed] == FAILED[:MAX_LISTED]
    assert [f.input for f in failed.listed] == [ITEMS[i] for i in FAILED[:MAX_LISTED]]
    assert {f.exit_code for f in failed.listed} == {7}
    assert failed.ref is not None
    everything = factory.get_blob_refs().get_json(failed.ref)
    assert [(f["index"], f["input"]) for f in everything] == [(i, ITEMS[i]) for i in FAILED]
    assert fan["message"].endswith(f"and {len(FAILED) - MAX_LISTED} more")

    assert sorted(p.name for p in out.iterdir()) == [ITEMS[i] for i in FAILED], "only the failed inputs ran"
    again = repaired["tasks"]["fan"]
    assert again["details"]["inputs"] == len(FAILED)
    refailed = FailedInputs.model_validate(again["failed_inputs"])
    assert refailed.count == len(FAILED)
    assert [f.index for f in refailed.listed] == FAILED[:MAX_LISTED], "a rerun input keeps its own index"
