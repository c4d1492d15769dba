"""Crash recovery: SIGKILL a real `python -m devhost orchestrate` process at several points, then resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.eventually import eventually

pytestmark = pytest.mark.integration

PROJECT = Path(__file__).resolve().parents[2]
APP = PROJECT / "tests" / "conformance" / "apps" / "basic"


def _orchestrate(function: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "devhost", "--app", str(APP), "orchestrate", function, *args]


def _command(state: Path, log: Path, n: int) -> list[str]:
    spec = json.dumps({"n": n, "log": str(log), "sleep": 0.05})
    return _orchestrate(
        "sequence_with_log", "--input", spec, "--state", str(state),
        "--instance-id", "crash-1", "--timeout", "60",
    )


def _ends(log: Path) -> int:
    return log.read_text().count("end ") if log.exists() else 0


def test_sigkill_at_any_point_then_rerun_resumes_without_losing_or_repeating_work(tmp_path: Path) -> None:
    state, log, n = tmp_path / "state", tmp_path / "steps.log", 8
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    for kill_after_ends in (2, 4, 6):
        proc = subprocess.Popen(
            _command(state, log, n), cwd=PROJECT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )

        def progressed(proc: subprocess.Popen[bytes] = proc, wanted: int = kill_after_ends) -> bool:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            return _ends(log) >= wanted

        eventually(progressed, timeout=30, interval=0.005, what="the orchestration to progress")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        assert proc.returncode == -signal.SIGKILL

    final = subprocess.run(
        _command(state, log, n), cwd=PROJECT, env=env, capture_output=True, text=True, timeout=60
    )
    assert final.returncode == 0, final.stderr
    result = json.loads(final.stdout.strip().splitlines()[-1])
    assert result["instanceId"] == "crash-1"
    assert result["runtimeStatus"] == "Completed"
    assert result["output"] == [10 * i for i in range(n)]
    assert "resuming" in final.stderr

    starts = [line for line in log.read_text().splitlines() if line.startswith("start ")]
    assert sorted(set(starts), key=lambda s: int(s.split()[1])) == [f"start {i}" for i in range(n)]
    # At-least-once: only an activity running at a kill may run twice; finished ones never rerun.
    repeated = len(starts) - len(set(starts))
    assert repeated <= 3

    again = subprocess.run(
        _command(state, log, n), cwd=PROJECT, env=env, capture_output=True, text=True, timeout=60
    )
    assert json.loads(again.stdout.strip().splitlines()[-1])["output"] == result["output"]
    assert [line for line in log.read_text().splitlines() if line.startswith("start ")] == starts


def test_orchestrate_exits_promptly_while_a_recovered_activity_still_runs(tmp_path: Path) -> None:
    state, log = tmp_path / "state", tmp_path / "slow.log"
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    spec = json.dumps({"n": 1, "log": str(log), "sleep": 60})
    slow = _orchestrate("sequence_with_log", "--input", spec, "--state", str(state), "--instance-id", "slow")
    proc = subprocess.Popen(slow, cwd=PROJECT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    eventually(lambda: log.exists() and "start 0" in log.read_text(), timeout=30, what="the first activity")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)

    started = time.monotonic()
    quick = subprocess.run(
        _orchestrate("chaining", "--state", str(state)),
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=50,
    )
    assert quick.returncode == 0, quick.stderr
    assert json.loads(quick.stdout.strip().splitlines()[-1])["output"] == [0, 2, 4]
    # The recovered 60 s activity was started again (at-least-once) but does not hold the process open.
    assert log.read_text().count("start 0") == 2
    assert time.monotonic() - started < 30
