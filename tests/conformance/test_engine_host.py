"""Host duties around the engine: host.json limits, settings, logs, and the `orchestrate` command line."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import pytest

from devhost.app_loader import LoadedApp, load_app
from devhost.cli import build_parser, main
from devhost.engine import DurableEngine
from devhost.engine_api import RuntimeStatus
from tests.conformance.helpers import APPS, output, run_to_end, run_with_engine


@pytest.fixture(scope="module")
def limits_app() -> LoadedApp:
    return load_app(APPS / "limits")


def test_host_json_bounds_concurrent_activities_sync_and_async(limits_app: LoadedApp) -> None:
    engine = DurableEngine(limits_app)
    assert engine.max_concurrent_activities == 2
    assert engine.max_concurrent_orchestrators == 1
    engine.store.close()
    state = run_with_engine(limits_app, lambda e: run_to_end(e, "fan", 6))
    assert output(state) == {"sum": 2 * sum(range(6)), "peak": 2}


def test_constructor_limit_overrides_host_json(limits_app: LoadedApp) -> None:
    state = run_with_engine(limits_app, lambda e: run_to_end(e, "fan", 6), max_concurrent_activities=1)
    assert output(state)["peak"] == 1


def test_orchestrator_without_yield_completes_and_sees_local_settings(limits_app: LoadedApp) -> None:
    state = run_with_engine(limits_app, lambda e: run_to_end(e, "no_yield", [1, 2]))
    assert state.runtime_status is RuntimeStatus.COMPLETED
    assert output(state) == {"greeting": "from local.settings.json", "input": [1, 2]}


def test_logs_one_line_per_lifecycle_change_and_failed_activity(
    basic_app: LoadedApp, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="devhost.engine")
    run_with_engine(basic_app, lambda e: run_to_end(e, "uncaught_failure", instance_id="logged"))
    lines = [r.getMessage() for r in caplog.records if r.name == "devhost.engine"]
    assert "instance logged (uncaught_failure) started" in lines
    assert any(line.startswith("activity boom failed (instance logged, task 0)") for line in lines)
    failed = [line for line in lines if line.startswith("instance logged (uncaught_failure) failed:")]
    assert len(failed) == 1 and "\n" not in failed[0]
    assert not any("episode" in line for line in lines)


def test_verbose_logs_each_episode(basic_app: LoadedApp, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="devhost.engine")
    run_with_engine(basic_app, lambda e: run_to_end(e, "chaining", {"n": 2}, instance_id="chatty"))
    episodes = [r.getMessage() for r in caplog.records if r.getMessage().startswith("episode chatty")]
    assert len(episodes) == 3


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, object] | None, str]:
    code = main(["--app", str(APPS / "basic"), *args])
    captured = capsys.readouterr()
    lines = captured.out.strip().splitlines()
    return code, (json.loads(lines[-1]) if lines else None), captured.err


def test_orchestrate_prints_one_json_object_and_exits_zero_on_completion(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, result, _ = _cli(capsys, "orchestrate", "chaining", "--input", '{"n": 3}', "--instance-id", "cli-1")
    assert code == 0
    assert result == {
        "instanceId": "cli-1",
        "runtimeStatus": "Completed",
        "output": [0, 2, 4],
        "customStatus": None,
    }


def test_orchestrate_exits_one_when_the_orchestration_fails(capsys: pytest.CaptureFixture[str]) -> None:
    code, result, _ = _cli(capsys, "orchestrate", "uncaught_failure")
    assert code == 1
    assert result is not None and result["runtimeStatus"] == "Failed"


def test_orchestrate_virtual_time_and_custom_status(capsys: pytest.CaptureFixture[str]) -> None:
    code, result, _ = _cli(
        capsys, "orchestrate", "approval", "--input", "86400", "--virtual-time", "--timeout", "10"
    )
    assert code == 0
    assert result is not None and result["output"] == {"approved": False}
    assert result["customStatus"] == "timed out"


def test_orchestrate_timeout_reports_the_running_state(capsys: pytest.CaptureFixture[str]) -> None:
    code, result, err = _cli(capsys, "orchestrate", "wait_forever", "--timeout", "0.3")
    assert code == 1
    assert result is not None and result["runtimeStatus"] == "Running"
    assert "timed out after 0.3 s" in err


def test_orchestrate_rejects_bad_input_and_unknown_names(capsys: pytest.CaptureFixture[str]) -> None:
    code, result, err = _cli(capsys, "orchestrate", "chaining", "--input", "{not json")
    assert code == 2 and result is None and "--input: not valid JSON" in err
    code, result, err = _cli(capsys, "orchestrate", "nope")
    assert code == 2 and result is None and "'nope' doesn't exist" in err


def test_orchestrate_with_state_prints_a_finished_instance_again(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    args = (
        "orchestrate",
        "chaining",
        "--input",
        '{"n": 2}',
        "--state",
        str(tmp_path),
        "--instance-id",
        "kept",
    )
    first = _cli(capsys, *args)
    second = _cli(capsys, *args)
    assert first[0] == second[0] == 0
    assert first[1] == second[1]
    assert (tmp_path / "devhost.sqlite3").exists()


def _subcommands(parser: argparse.ArgumentParser) -> set[str]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return set(action.choices)
    return set()


def test_parser_adds_hooked_commands_but_orchestrate_does_not_import_them() -> None:
    assert {"orchestrate", "start"} <= _subcommands(build_parser())
    assert _subcommands(build_parser(["--app", "x", "-v", "orchestrate", "n"])) == {"orchestrate"}


def test_orchestrator_running_ahead_of_a_failed_task_all_is_explained_in_the_log(
    basic_app: LoadedApp, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="devhost.engine")
    run_with_engine(basic_app, lambda e: run_to_end(e, "when_all_with_failure", instance_id="ahead"))
    ahead = [r.getMessage() for r in caplog.records if "moved past a task_all" in r.getMessage()]
    assert len(ahead) == 1 and ahead[0].startswith("instance ahead (when_all_with_failure)")


def test_engine_implements_the_shared_engine_protocol(basic_app: LoadedApp) -> None:
    from devhost.engine_api import DurableEngine as EngineProtocol

    engine: EngineProtocol = DurableEngine(basic_app)  # mypy checks the structural match
    for name in (
        "start_new",
        "get_instance",
        "query_instances",
        "raise_event",
        "terminate",
        "suspend",
        "resume",
        "purge",
        "purge_many",
        "wait_for_terminal",
    ):
        assert callable(getattr(engine, name))
    assert isinstance(engine, DurableEngine)
    engine.store.close()
