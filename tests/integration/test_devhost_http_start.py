"""`python -m devhost --app DIR start` as a real process, driven over real HTTP."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from devhost.ports import free_port
from tests.eventually import eventually

pytestmark = pytest.mark.integration

PROJECT_DIR = Path(__file__).resolve().parents[2]
APP_DIR = PROJECT_DIR / "tests" / "conformance" / "apps" / "http_client"
MASTER_KEY = "integration-master-7d41"


@contextmanager
def devhost_process(
    port: int | None,
    state: Path,
    log_path: Path,
    env_extra: dict[str, str],
    app_dir: Path = APP_DIR,
) -> Iterator[subprocess.Popen[bytes]]:
    env = {k: v for k, v in os.environ.items() if k != "AzureWebJobsStorage" and not k.startswith("DEVHOST_")}
    env.update(env_extra)
    with open(log_path, "ab") as log:
        port_args = ["--port", str(port)] if port is not None else []
        command = [sys.executable, "-m", "devhost", "--app", str(app_dir), "start", *port_args]
        proc = subprocess.Popen(
            [*command, "--state", str(state), "--verbose"],
            cwd=PROJECT_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)


def wait_ready(proc: subprocess.Popen[bytes], port: int, log_path: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"devhost exited with {proc.returncode}:\n{log_path.read_text()}")
        try:
            r = requests.get(
                f"http://127.0.0.1:{port}/admin/host/status", params={"code": MASTER_KEY}, timeout=2
            )
            if r.status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"devhost not ready on {port}:\n{log_path.read_text()}")


def poll_until_done(url: str) -> requests.Response:
    def answered() -> requests.Response | None:
        r = requests.get(url, timeout=5)
        return r if r.status_code != 202 else None

    return eventually(answered, timeout=30, interval=0.1, what=f"{url} to finish")


def test_start_serves_http_starters_and_status_urls_then_stops_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    state = tmp_path / "state"
    log_path = tmp_path / "devhost.log"
    with devhost_process(port, state, log_path, {"DEVHOST_MASTER_KEY": MASTER_KEY}) as proc:
        wait_ready(proc, port, log_path)
        r = requests.post(f"http://127.0.0.1:{port}/api/orchestrators/chain/proc-1", json="ada", timeout=10)
        assert r.status_code == 202
        links = r.json()
        status_url = links["statusQueryGetUri"]
        assert status_url.startswith(
            f"http://127.0.0.1:{port}/runtime/webhooks/durabletask/instances/proc-1?"
        )
        assert "code=" in status_url and MASTER_KEY not in status_url
        assert requests.get(status_url.split("?")[0], timeout=5).status_code == 401
        done = poll_until_done(status_url)
        assert done.status_code == 200
        assert done.json()["output"] == ["hello ada", "hello hello ada"]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
    log = log_path.read_text()
    assert "devhost started" in log
    assert "POST /api/orchestrators/chain/proc-1 -> 202" in log
    assert "devhost stopped" in log
    assert MASTER_KEY not in log
    system_key = status_url.split("code=")[1].split("&")[0]
    assert system_key not in log

    with devhost_process(port, state, log_path, {"DEVHOST_MASTER_KEY": MASTER_KEY}) as again:
        wait_ready(again, port, log_path)
        after_restart = requests.get(status_url, timeout=5)
        assert (after_restart.status_code, after_restart.json()["runtimeStatus"]) == (200, "Completed")
        again.send_signal(signal.SIGINT)
        assert again.wait(20) == 0


def test_start_on_a_busy_port_exits_with_a_clear_error(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        log_path = tmp_path / "devhost.log"
        with devhost_process(port, tmp_path / "state", log_path, {}) as proc:
            assert proc.wait(30) == 2
    assert f"cannot listen on 127.0.0.1:{port}" in log_path.read_text()


def test_port_and_cors_come_from_the_host_section_of_local_settings(tmp_path: Path) -> None:
    app_dir = tmp_path / "app"
    app_dir.mkdir()
    for name in ("function_app.py", "host.json"):
        shutil.copy(APP_DIR / name, app_dir / name)
    port = free_port()
    settings = {"IsEncrypted": False, "Values": {}, "Host": {"LocalHttpPort": port, "CORS": "http://ui.test"}}
    (app_dir / "local.settings.json").write_text(json.dumps(settings))
    log_path = tmp_path / "devhost.log"
    with devhost_process(None, tmp_path / "state", log_path, {}, app_dir=app_dir) as proc:
        wait_ready(proc, port, log_path)
        r = requests.post(
            f"http://127.0.0.1:{port}/api/orchestrators/chain",
            json="ui",
            headers={"Origin": "http://ui.test"},
            timeout=10,
        )
        assert r.status_code == 202
        assert r.headers["Access-Control-Allow-Origin"] == "http://ui.test"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
