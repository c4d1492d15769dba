"""Which inputs a repaired fan-out runs again, and how failed inputs read in a task's message."""

from __future__ import annotations

from jobclusters.failed_inputs import FailedInput, FailedInputs, InputSelection, rerun_inputs
from jobclusters.spec.model import Job


def _job() -> Job:
    command = {"kind": "command", "command_line": "true", "fan_out": {"items": ["a", "b", "c"]}}
    return Job.model_validate(
        {
            "name": "j",
            "tasks": [
                {"key": "up", "payload": {"kind": "command", "command_line": "true"}},
                {"key": "fan", "payload": command, "depends_on": [{"task_key": "up"}]},
                {"key": "alone", "payload": command},
            ],
        }
    )


def _failed(*indexes: int, count: int | None = None, ref: str | None = None) -> FailedInputs:
    listed = [FailedInput(index=i, input=f"v{i}", task_id=f"t-{i:06d}", exit_code=i) for i in indexes]
    return FailedInputs(count=len(indexes) if count is None else count, listed=listed, ref=ref)


def test_a_fan_out_reruns_its_failed_inputs_by_index_or_through_the_blob_that_lists_them_all() -> None:
    failed = {"fan": _failed(1, 2), "alone": _failed(0, count=40, ref="runs/failed.json")}
    assert rerun_inputs(_job(), ["fan", "alone"], failed) == {
        "fan": InputSelection(indexes=[1, 2]),
        "alone": InputSelection(ref="runs/failed.json"),
    }


def test_every_input_reruns_when_something_upstream_reruns_or_none_is_on_record() -> None:
    assert rerun_inputs(_job(), ["up", "fan", "alone"], {"fan": _failed(1), "alone": None}) == {}


def test_the_message_names_each_listed_input_and_counts_the_rest() -> None:
    failed = _failed(3, 7, count=5)
    failed.listed[1].code, failed.listed[1].message = "FileUploadError", "outputFiles[1] (x) upload failed"
    assert failed.describe() == (
        "input 3 (v3) exit code 3; input 7 (v7) exit code 7: outputFiles[1] (x) upload failed; and 3 more"
    )
