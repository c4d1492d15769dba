from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from jobclusters.client.keys import function_key
from jobclusters.client.launcher import RECORD_FILE, EmbeddedDefault
from jobclusters.commands.run import parse_params
from tests.eventually import eventually
from tests.loopback import loopback


def test_the_environment_wins_over_local_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("JOBCLUSTERS_API_KEY", "DEVHOST_FUNCTION_KEY", "DEVHOST_MASTER_KEY"):
        monkeypatch.delenv(name, raising=False)
    assert function_key(tmp_path) is None
    (tmp_path / "local.settings.json").write_text(json.dumps({"Values": {"DEVHOST_FUNCTION_KEY": "a,b"}}))
    assert function_key(tmp_path) == "a"
    monkeypatch.setenv("DEVHOST_FUNCTION_KEY", "from-env")
    assert function_key(tmp_path) == "from-env"


def test_params_are_key_value_pairs() -> None:
    assert parse_params(["a=1", "b=x=y", "c="]) == {"a": "1", "b": "x=y", "c": ""}
    with pytest.raises(ValueError, match="'novalue' is not K=V"):
        parse_params(["novalue"])


def test_a_recorded_healthy_host_is_reused(tmp_path: Path) -> None:
    def handler(method: str, path: str, headers: dict[str, str], body: Any) -> tuple[int, Any]:
        return (200, {"jobs": []}) if headers.get("x-functions-key") == "k" else (401, {})

    with loopback(handler) as (url, _):
        port = int(url.rsplit(":", 1)[1])
        (tmp_path / RECORD_FILE).write_text(json.dumps({"pid": os.getpid(), "port": port}))
        host = EmbeddedDefault(tmp_path, tmp_path, env={"DEVHOST_FUNCTION_KEY": "k"})
        found = host.running()
        assert found is not None and found.base_url == url and found.pid == os.getpid()
        assert host.ensure(timeout=1).base_url == url
        assert EmbeddedDefault(tmp_path, tmp_path, env={"DEVHOST_FUNCTION_KEY": "wrong"}).running() is None


def test_stop_ends_the_recorded_process_and_forgets_it(tmp_path: Path) -> None:
    # argv ends in `-m devhost`, as the launcher's own host does; the code only sleeps.
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "-m", "devhost"])
    try:
        cmdline = Path(f"/proc/{child.pid}/cmdline")
        # until the child has exec'd its own command line
        eventually(lambda: b"devhost" in cmdline.read_bytes(), timeout=10, interval=0.01, what="the exec")
        (tmp_path / RECORD_FILE).write_text(json.dumps({"pid": child.pid, "port": 1}))
        host = EmbeddedDefault(tmp_path, tmp_path)
        assert host.stop(timeout=10) is True
        child.wait(timeout=10)  # gone (stop reaps its own children, so no exit status is left)
        assert not (tmp_path / RECORD_FILE).exists()
        assert host.stop() is False
    finally:
        if child.poll() is None:
            child.kill()


def test_a_recorded_pid_that_is_not_devhost_is_never_signalled(tmp_path: Path) -> None:
    (tmp_path / RECORD_FILE).write_text(json.dumps({"pid": os.getpid(), "port": 1}))
    assert EmbeddedDefault(tmp_path, tmp_path).stop() is False  # this test process is still here
    assert not (tmp_path / RECORD_FILE).exists()


def test_a_process_that_merely_mentions_devhost_in_its_arguments_is_never_signalled(tmp_path: Path) -> None:
    bystander = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(30)", "tests/test_devhost_something.py"]
    )
    try:
        (tmp_path / RECORD_FILE).write_text(json.dumps({"pid": bystander.pid, "port": 1}))
        assert EmbeddedDefault(tmp_path, tmp_path).stop() is False
        assert bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()


def test_a_host_that_exits_at_once_reports_its_log(tmp_path: Path) -> None:
    app = tmp_path / "app"
    app.mkdir()
    (app / "function_app.py").write_text("raise RuntimeError('broken app')\n")
    host = EmbeddedDefault(app, tmp_path / "state", port=1)
    with pytest.raises(Exception, match="exited"):
        host.ensure(timeout=30)
    assert "broken app" in host.log_tail()
    assert not (tmp_path / "state" / RECORD_FILE).exists()


def test_the_port_comes_from_the_argument_then_the_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jobclusters.client.launcher import LaunchError

    monkeypatch.delenv("JOBCLUSTERS_PORT", raising=False)
    assert EmbeddedDefault(tmp_path, tmp_path / "s").port is None
    assert EmbeddedDefault(tmp_path, tmp_path / "s", env={"JOBCLUSTERS_PORT": "7301"}).port == 7301
    monkeypatch.setenv("JOBCLUSTERS_PORT", "7302")
    assert EmbeddedDefault(tmp_path, tmp_path / "s").port == 7302
    assert EmbeddedDefault(tmp_path, tmp_path / "s", port=7303).port == 7303
    monkeypatch.setenv("JOBCLUSTERS_PORT", "http")
    with pytest.raises(LaunchError, match="not a port"):
        EmbeddedDefault(tmp_path, tmp_path / "s")


def test_a_chosen_port_that_is_taken_is_an_error_not_a_silent_move(tmp_path: Path) -> None:
    import socket

    from jobclusters.client.launcher import LaunchError

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(LaunchError, match=f"port {port} is in use"):
            EmbeddedDefault(tmp_path, tmp_path / "s", port=port).ensure(timeout=5)
