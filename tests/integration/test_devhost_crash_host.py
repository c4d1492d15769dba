"""Crash recovery of the host: SIGKILL `python -m devhost start`, then start it again on the same state."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.eventually import eventually

pytestmark = pytest.mark.integration

PROJECT = Path(__file__).resolve().parents[2]
APP = PROJECT / "tests" / "conformance" / "apps" / "basic"
READY = re.compile(r"devhost started: (http://127\.0\.0\.1:\d+)")


class Host:
    def __init__(self, state: Path) -> None:
        env = {**os.environ, "PYTHONPATH": str(PROJECT)}
        env.pop("AzureWebJobsStorage", None)
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "devhost",
                "--app",
                str(APP),
                "start",
                "--port",
                "0",
                "--state",
                str(state),
            ],
            cwd=PROJECT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()
        self.origin = self._wait_ready()

    def _pump(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.put(line)

    def _wait_ready(self) -> str:
        deadline = time.monotonic() + 30
        seen: list[str] = []
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                assert self.proc.poll() is None, "".join(seen)
                continue
            seen.append(line)
            found = READY.search(line)
            if found:
                return found.group(1)
        raise AssertionError("host not ready: " + "".join(seen))

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.origin}/runtime/webhooks/durabletask/{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")

    def kill(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=15)


def test_sigkilled_host_resumes_in_flight_orchestrations_on_restart(tmp_path: Path) -> None:
    state, log, n = tmp_path / "state", tmp_path / "steps.log", 8
    spec = {"n": n, "log": str(log), "sleep": 0.05}
    first = Host(state)
    try:
        code, _ = first.call("POST", "orchestrators/sequence_with_log/host-crash", spec)
        assert code == 202
        code, _ = first.call("POST", "orchestrators/wait_forever/host-waiter")
        assert code == 202
        eventually(
            lambda: (log.read_text().count("end ") if log.exists() else 0) >= 3,
            timeout=30,
            interval=0.005,
            what="three activities to end",
        )
    finally:
        first.kill()

    second = Host(state)
    try:

        def finished() -> Any:
            code, status = second.call("GET", "instances/host-crash")
            assert code in (200, 202), code
            return status if code == 200 else None

        status = eventually(finished, timeout=30, interval=0.05, what="host-crash to finish")
        assert status["runtimeStatus"] == "Completed"
        assert status["output"] == [10 * i for i in range(n)]
        code, waiter = second.call("GET", "instances/host-waiter")
        assert code == 202 and waiter["runtimeStatus"] == "Running"
    finally:
        second.stop()
    starts = [line for line in log.read_text().splitlines() if line.startswith("start ")]
    assert sorted(set(starts), key=lambda s: int(s.split()[1])) == [f"start {i}" for i in range(n)]
    assert len(starts) - len(set(starts)) <= 1
