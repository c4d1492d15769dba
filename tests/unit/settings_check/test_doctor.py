"""`doctor FILE`: the lines and the exit code, from the settings it is given (no storage read)."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

from jobclusters.cli import build_parser
from jobclusters.commands.doctor import EXIT_BAD_FILE, EXIT_OK, EXIT_PROBLEMS, doctor_command
from jobclusters.settings import Settings

TAGS = {"Project": "p", "Environment": "e", "CostCenter": "c", "Owner": "o"}
JOB = {
    "format": "jobclusters/v1",
    "name": "etl",
    "tags": TAGS,
    "tasks": [
        {"key": "ingest", "payload": {"kind": "command", "command_line": "echo hi"}},
        {"key": "train", "payload": {"kind": "spark_python", "python_file": "dbfs:/t.py"}},
    ],
}


def _doctor(tmp_path: Path, values: dict[str, str], document: object = JOB) -> tuple[int, list[str]]:
    file = tmp_path / "job.json"
    file.write_text(json.dumps(document))
    args = build_parser().parse_args(["doctor", "--no-registered", str(file)])
    assert isinstance(args, argparse.Namespace) and args.func is doctor_command
    out = io.StringIO()
    code = doctor_command(args, out=out, settings=Settings.from_mapping(values))
    return code, [line.replace(str(file), "FILE") for line in out.getvalue().splitlines()]


def test_azure_mode_lists_each_missing_setting_with_its_task_and_exits_1(tmp_path: Path) -> None:
    code, lines = _doctor(
        tmp_path,
        {
            "JOBCLUSTERS_MODE": "azure",
            "JOBCLUSTERS_RUN_SIGNING_KEY": "a-signing-key",
            "DATABRICKS_TOKEN": "dapi-hush",
        },
    )
    assert code == EXIT_PROBLEMS
    assert [line.split(" (")[0] for line in lines[:-1]] == [
        "missing: FILE: app setting BATCH_ACCOUNT_URL is missing",
        "missing: FILE: app setting DATABRICKS_HOST is missing",
    ]
    assert "task 'ingest' at $.tasks[0]" in lines[0] and "task 'train' at $.tasks[1]" in lines[1]
    assert lines[-1] == "mode azure: 1 job(s) checked, 2 required setting problem(s)"
    assert not any("hush" in line for line in lines)


def test_complete_settings_and_local_mode_exit_0(tmp_path: Path) -> None:
    complete = {
        "JOBCLUSTERS_MODE": "azure",
        "JOBCLUSTERS_RUN_SIGNING_KEY": "a-signing-key",
        "DATABRICKS_HOST": "https://adb-1.2.azuredatabricks.net",
        "BATCH_ACCOUNT_URL": "https://a.westeurope.batch.azure.com",
    }
    assert _doctor(tmp_path, complete) == (
        EXIT_OK,
        ["mode azure: 1 job(s) checked, 0 required setting problem(s)"],
    )
    assert _doctor(tmp_path, {}) == (EXIT_OK, ["mode local: 1 job(s) checked, 0 required setting problem(s)"])


def test_a_file_that_is_no_job_exits_2(tmp_path: Path) -> None:
    code, lines = _doctor(tmp_path, {}, {"format": "jobclusters/v1", "tasks": "nope"})
    assert code == EXIT_BAD_FILE
    assert lines[0] == "FILE: not a valid job definition (see `validate FILE`)"
