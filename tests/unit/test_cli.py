from __future__ import annotations

import argparse
import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from jobclusters.cli import EXIT_BROKEN_PIPE, build_parser, main, run_demo
from jobclusters.spec import commands as spec_commands

PROJECT = Path(__file__).resolve().parents[2]
SEED = PROJECT / "examples" / "seed"
NATIVE = PROJECT / "examples" / "native"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_validate_valid_files_exits_0_with_an_ok_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "validate", str(NATIVE / "daily-etl.yaml"), str(NATIVE / "batch-fanout-adf-rules.json")
    )
    assert code == 0
    assert out.splitlines() == [
        f"{NATIVE / 'daily-etl.yaml'}: ok (native, 5 task(s))",
        f"{NATIVE / 'batch-fanout-adf-rules.json'}: ok (native, 3 task(s))",
    ]


def test_validate_prints_one_line_per_error_and_exits_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            {
                "name": "j",
                "tags": {"Project": "p", "Environment": "e", "CostCenter": "c", "Owner": "o"},
                "tasks": [
                    {"task_key": "a", "existing_cluster_id": "x", "notebook_task": {"notebook_path": "/a"}},
                    {
                        "task_key": "b",
                        "existing_cluster_id": "x",
                        "notebook_task": {"notebook_path": "/b"},
                        "depends_on": [{"task_key": "a"}, {"task_key": "nope"}],
                    },
                ],
            }
        )
    )
    code, out, _ = run(capsys, "validate", str(NATIVE / "daily-etl.yaml"), str(bad))
    assert code == 2
    assert (
        f"{bad}: $.tasks[1].depends_on[1].task_key: unknown dependency 'nope': "
        "expected one of the job's task keys" in out.splitlines()
    )


def test_validate_reports_the_seed_secrets_and_marks_warnings(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "validate", str(SEED / "batch-job.json"))
    lines = out.splitlines()
    assert code == 2
    assert lines[0].startswith(
        f"{SEED / 'batch-job.json'}: $.commonEnvironmentSettings[1].value: a literal storage"
    )
    assert any(": warning: missing cost tags" in line for line in lines)
    assert "storage-account-key" not in out


def test_strict_turns_cost_tag_warnings_into_errors(capsys: pytest.CaptureFixture[str]) -> None:
    path = str(SEED / "databricks-job-cron.json")
    assert run(capsys, "validate", path)[0] == 0
    code, out, _ = run(capsys, "validate", "--strict", path)
    assert code == 2 and f"{path}: $.new_cluster: missing cost tags" in out


def test_required_tags_option_overrides_the_policy(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "validate", "--strict", "--required-tags", "", str(SEED / "databricks-job-cron.json")
    )
    assert code == 0 and "warning" not in out


def test_show_json_has_job_dag_and_modes(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "show", "--json", str(SEED / "databricks-job-multitask.json"))
    shown = json.loads(out)
    assert code == 0 and shown["format"] == "databricks" and shown["valid"]
    assert shown["dag"]["waves"] == [
        ["data_validation"],
        ["data_transformation"],
        ["data_quality_check"],
        ["publish_results"],
    ]
    assert shown["dag"]["modes"]["publish_results"] == ["existing_cluster"]
    assert shown["job"]["tasks"][1]["depends_on"] == [
        {"task_key": "data_validation", "outcome": None, "conditions": None}
    ]


def test_show_text_names_modes_and_order(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "show", str(SEED / "databricks-job-single-node.json"))
    assert code == 0
    assert "on_demand_job_cluster, single_node" in out
    assert "run order: lightweight-processing-job" in out


def test_simulate_prints_states_and_result(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        "simulate",
        str(SEED / "databricks-job-multitask.json"),
        "--outcome",
        "data_quality_check=TIMEDOUT",
    )
    assert code == 0
    assert json.loads(out) == {
        "tasks": {
            "data_validation": "SUCCESS",
            "data_transformation": "SUCCESS",
            "data_quality_check": "TIMEDOUT",
            "publish_results": "UPSTREAM_FAILED",
        },
        "result": "FAILED",
    }


def test_simulate_adf_keys_are_activity_names(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "simulate", str(SEED / "synapse-pipeline.json"), "--outcome", "DataTransformation=FAILED"
    )
    assert code == 0
    assert json.loads(out)["tasks"] == {
        "DataValidation": "SUCCESS",
        "DataTransformation": "FAILED",
        "DataQualityCheck": "SKIPPED",
    }


def test_simulate_condition_branch_outcome(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "simulate", str(NATIVE / "daily-etl.yaml"), "--outcome", "enough_rows=false")
    assert code == 0 and json.loads(out)["tasks"]["transform"] == "EXCLUDED"


@pytest.mark.parametrize("bad", ["ghost=FAILED", "ingest=EXPLODED", "ingest"])
def test_simulate_rejects_bad_outcomes(capsys: pytest.CaptureFixture[str], bad: str) -> None:
    code, out, err = run(capsys, "simulate", str(NATIVE / "daily-etl.yaml"), "--outcome", bad)
    assert code == 2 and out == "" and "--outcome" in err


def test_simulate_refuses_a_cyclic_definition(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "cycle.json"
    path.write_text(
        json.dumps(
            {
                "format": "jobclusters/v1",
                "name": "c",
                "tasks": [
                    {"key": "a", "depends_on": [{"task_key": "b"}]},
                    {"key": "b", "depends_on": [{"task_key": "a"}]},
                ],
            }
        )
    )
    code, out, err = run(capsys, "simulate", str(path))
    assert code == 2 and out == ""
    assert "dependency cycle: a -> b -> a" in err


def test_seed_overview_validates_and_simulates_every_seed_example() -> None:
    buffer = io.StringIO()
    assert run_demo(argparse.Namespace(examples=PROJECT / "examples"), out=buffer) == 0
    out = buffer.getvalue()
    for path in SEED.glob("*.json"):
        assert f"examples/seed/{path.name}" in out
    assert "hdinsight-spark-cluster.json" in out and "restAuthCredential.password" in out
    assert '"result": "SUCCESS"' in out
    count = len(list(SEED.glob("*.json"))) + len(list(NATIVE.glob("*.*")))
    assert f"{count} definitions" in out


def test_parser_takes_command_modules_and_requires_a_command() -> None:
    parser = build_parser()
    assert parser.parse_args(["validate", "x.json"]).func.__name__ == "run_validate"
    assert "demo" in parser.parse_args(["demo"]).command
    with pytest.raises(SystemExit):
        parser.parse_args([])


def test_module_entry_point_runs() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "jobclusters", "simulate", str(SEED / "databricks-job-cron.json")],
        capture_output=True,
        text=True,
        cwd=PROJECT,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0
    assert json.loads(done.stdout) == {"tasks": {"daily-sales-report": "SUCCESS"}, "result": "SUCCESS"}


def test_show_json_never_prints_a_seed_secret(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "show", "--json", str(SEED / "hdinsight-spark-cluster.json"))
    assert code == 2 and "Password123!" not in out and "storage-account-key" not in out
    assert json.loads(out)["errors"][0]["code"] == "secret:password"


def test_an_importer_bug_is_reported_per_file_not_raised(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import jobclusters.spec.commands as commands

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(commands, "load_definition", broken)
    code, out, _ = run(capsys, "validate", str(SEED / "databricks-job-cron.json"))
    assert code == 2 and "internal error (RuntimeError)" in out


def _with_reader_gone(*argv: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI with a stdout pipe whose reader is already closed, as `... | head` leaves it."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run(
            [sys.executable, "-m", "jobclusters", *argv],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            cwd=PROJECT,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write_end)


def test_a_closed_pipe_ends_the_cli_quietly_like_a_unix_tool() -> None:
    done = _with_reader_gone("show", str(NATIVE / "daily-etl.yaml"))
    assert done.stderr == ""
    assert done.returncode == EXIT_BROKEN_PIPE == 128 + signal.SIGPIPE


def test_run_refuses_a_param_the_job_does_not_define_before_starting_anything(
    capsys: pytest.CaptureFixture[str],
) -> None:
    job = str(NATIVE / "daily-etl.yaml")
    code, out, err = run(capsys, "run", job, "--param", "nope=1", "--url", "http://127.0.0.1:9")
    assert code == 2 and out == ""  # nothing was registered or started: no server answers on port 9
    assert err.splitlines() == [
        f"{job}: unknown --param:",
        "  --param: job 'daily-etl' has no parameter 'nope' (defined: input_path, min_rows)",
    ]


UNRUNNABLE = {
    "format": "jobclusters/v1",
    "name": "mixed",
    "tags": {"Project": "p", "Environment": "e", "CostCenter": "c", "Owner": "o"},
    "tasks": [
        {"key": "first", "payload": {"kind": "condition", "op": "EQUAL_TO", "left": "a", "right": "a"}},
        {
            "key": "loop",
            "depends_on": [{"task_key": "first"}],
            "payload": {"kind": "unsupported", "home_kind": "dbt_task"},
        },
        {"key": "after", "depends_on": [{"task_key": "loop"}]},
    ],
}
ADF_WAIT = {
    "name": "p",
    "properties": {
        "annotations": [],
        "activities": [
            {"name": "w", "type": "Until", "typeProperties": {"expression": "@true", "timeout": "0.00:10:00"}}
        ],
    },
}


def test_validate_reports_each_task_the_app_cannot_run_at_its_path_and_exits_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    native, adf = tmp_path / "mixed.json", tmp_path / "adf.json"
    native.write_text(json.dumps(UNRUNNABLE))
    adf.write_text(json.dumps(ADF_WAIT))
    code, out, _ = run(capsys, "validate", "--required-tags", "", str(native), str(adf))
    assert code == 2
    assert out.splitlines() == [
        f"{native}: $.tasks[1]: task 'loop' (dbt_task) cannot be run by this app",
        f"{native}: $.tasks[2]: task 'after' (no payload) cannot be run by this app",
        f"{adf}: $.properties.activities[0]: task 'w' (Until) cannot be run by this app",
    ]


def test_simulate_fails_what_cannot_run_and_what_must_fail(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "mixed.json"
    path.write_text(json.dumps(UNRUNNABLE))
    code, out, err = run(capsys, "simulate", "--required-tags", "", str(path))
    assert code == 0
    assert json.loads(out) == {
        "tasks": {"first": "SUCCESS", "loop": "FAILED", "after": "UPSTREAM_FAILED"},
        "result": "FAILED",
    }
    assert f"{path}: $.tasks[1]: task 'loop' (dbt_task) cannot be run by this app" in err.splitlines()
    code, out, _ = run(capsys, "simulate", str(NATIVE / "daily-etl.yaml"), "--outcome", "publish=FAILED")
    assert json.loads(out)["tasks"]["alert_on_failure"] == "FAILED"  # a fail task fails when it runs


def test_what_cannot_run_is_decided_by_the_router_alone(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the router learns to run a kind, validate and simulate follow without another change."""
    path = tmp_path / "mixed.json"
    path.write_text(json.dumps(UNRUNNABLE))
    monkeypatch.setattr(spec_commands, "executor_for", lambda task: "inline")
    code, out, _ = run(capsys, "validate", "--required-tags", "", str(path))
    assert (code, out) == (0, f"{path}: ok (native, 3 task(s))\n")
    _, out, _ = run(capsys, "simulate", "--required-tags", "", str(path))
    assert json.loads(out)["tasks"] == {"first": "SUCCESS", "loop": "SUCCESS", "after": "SUCCESS"}
