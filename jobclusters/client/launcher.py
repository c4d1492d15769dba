"""The embedded default: one background devhost serving this project's app on 127.0.0.1, with Azurite,
the local Batch executor and the local cluster, started on first use and reused by every later command.

`<state>/embedded-default.json` records the pid and port; a command finds a healthy host there or starts
one on the chosen port (`--port`, else the `JOBCLUSTERS_PORT` setting, else 7071 when free or any free
one; a chosen port that is taken is an error, not a silent fallback), so two state folders give two
isolated hosts side by side. It runs `python -m devhost --app <project> start --port <p> --state
<state>/devhost` and waits until it answers. `stop` ends it (SIGTERM, so devhost shuts down Azurite and
its listeners in order).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from devhost.ports import free_port
from jobclusters.client.keys import function_key, local_settings
from jobclusters.processes import pid_alive

PROJECT_DIR = CODE_DIR = Path(__file__).resolve().parents[2]
RECORD_FILE = "embedded-default.json"
LOCK_FILE = "embedded-default.lock"
LOG_FILE = "embedded-default.log"
DEFAULT_PORT = 7071
PORT_SETTING = "JOBCLUSTERS_PORT"

# What the embedded default needs when the project has no local.settings.json (a fresh clone).
LOCAL_DEFAULTS = {
    "AzureWebJobsStorage": "UseDevelopmentStorage=true",
    "JOBCLUSTERS_MODE": "local",
    "JOBCLUSTERS_SCHEDULER_CRON": "0 * * * * *",
    "JOBCLUSTERS_BUDGET_CHECK_CRON": "*/15 * * * * *",
    "FUNCTIONS_WORKER_RUNTIME": "python",
}


class LaunchError(RuntimeError):
    pass


@dataclass(frozen=True)
class Endpoint:
    base_url: str
    key: str | None
    pid: int | None = None


def _port_free(port: int) -> bool:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _listened_on(port: int) -> bool:
    """Something accepts connections on the port (a port in TIME_WAIT after a host stopped does not count:
    devhost can bind it again)."""
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.settimeout(1.0)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _is_devhost(pid: int) -> bool:
    """False when the recorded pid now belongs to another program (Linux tells us; elsewhere assume yes)."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return True
    return any(a == b"-m" and b == b"devhost" for a, b in zip(argv, argv[1:], strict=False))


def configured_port(project_dir: Path, env: dict[str, str] | None = None) -> int | None:
    """`JOBCLUSTERS_PORT` from the host's extra settings, the environment or local.settings.json; None when
    unset."""
    value = (
        (env or {}).get(PORT_SETTING)
        or os.environ.get(PORT_SETTING)
        or local_settings(project_dir).get(PORT_SETTING)
    )
    if not value:
        return None
    try:
        port = int(value)
    except ValueError:
        raise LaunchError(f"{PORT_SETTING}={value!r} is not a port number") from None
    if not 0 < port < 65536:
        raise LaunchError(f"{PORT_SETTING}={port} is not a port number (1-65535)")
    return port


class EmbeddedDefault:
    def __init__(
        self,
        project_dir: Path = PROJECT_DIR,
        state_dir: Path | None = None,
        *,
        env: dict[str, str] | None = None,
        port: int | None = None,
    ) -> None:
        self.project_dir = project_dir.resolve()
        configured = os.environ.get("JOBCLUSTERS_STATE_DIR") or local_settings(self.project_dir).get(
            "JOBCLUSTERS_STATE_DIR"
        )
        default_state = Path(configured) if configured else Path(".state")
        if not default_state.is_absolute():
            default_state = self.project_dir / default_state
        self.state_dir = (state_dir or default_state).resolve()
        self.extra_env = dict(env or {})
        self.port = port or configured_port(self.project_dir, self.extra_env)
        self.record_path = self.state_dir / RECORD_FILE
        self.log_path = self.state_dir / LOG_FILE

    @property
    def key(self) -> str | None:
        return self.extra_env.get("DEVHOST_FUNCTION_KEY") or function_key(self.project_dir)

    def _record(self) -> dict[str, int] | None:
        try:
            data = json.loads(self.record_path.read_text(encoding="utf-8"))
            return {"pid": int(data["pid"]), "port": int(data["port"])}
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def _healthy(self, port: int) -> bool:
        headers = {"x-functions-key": self.key} if self.key else {}
        try:
            response = requests.get(f"http://127.0.0.1:{port}/api/jobs", headers=headers, timeout=2)
        except requests.RequestException:
            return False
        return response.status_code == 200

    def running(self) -> Endpoint | None:
        record = self._record()
        if record is None or not pid_alive(record["pid"]) or not self._healthy(record["port"]):
            return None
        return Endpoint(f"http://127.0.0.1:{record['port']}", self.key, record["pid"])

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        file_settings = local_settings(self.project_dir)
        for name, value in LOCAL_DEFAULTS.items():
            if name not in env and name not in file_settings:
                env[name] = value
        env["JOBCLUSTERS_STATE_DIR"] = str(self.state_dir)
        # devhost and the app's packages come from this checkout, installed or not
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(CODE_DIR), env.get("PYTHONPATH", "")) if p)
        env.update(self.extra_env)
        return env

    def ensure(self, timeout: float = 90.0, on_start: object = None) -> Endpoint:
        """The running host, or a new one once it answers. Commands started at the same moment take turns
        (a lock file), so they share one host instead of starting two."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with open(self.state_dir / LOCK_FILE, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                return self._ensure_locked(timeout, on_start)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _ensure_locked(self, timeout: float, on_start: object) -> Endpoint:
        found = self.running()
        if found is not None:
            self._check_port(found)
            return found
        record = self._record()
        if record is not None and pid_alive(record["pid"]) and _is_devhost(record["pid"]):
            # started a moment ago and still starting up, or hung: give it the same time to answer
            return self._wait(record["pid"], record["port"], None, timeout)
        if callable(on_start):
            on_start()
        if self.port is not None and _listened_on(self.port):
            raise LaunchError(f"port {self.port} is in use; choose another with --port or {PORT_SETTING}")
        port = self.port or (DEFAULT_PORT if _port_free(DEFAULT_PORT) else free_port())
        self.state_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child, which outlives us
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "devhost",
                "--app",
                str(self.project_dir),
                "start",
                "--port",
                str(port),
                "--state",
                str(self.state_dir / "devhost"),
            ],
            cwd=self.project_dir,
            env=self.environment(),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        self.record_path.write_text(json.dumps({"pid": process.pid, "port": port, "started_at": time.time()}))
        return self._wait(process.pid, port, process, timeout)

    def _check_port(self, found: Endpoint) -> None:
        if self.port is not None and not found.base_url.endswith(f":{self.port}"):
            raise LaunchError(
                f"the embedded default of {self.state_dir} already runs at {found.base_url}; stop it "
                "(`python -m jobclusters stop`) or give this one its own JOBCLUSTERS_STATE_DIR"
            )

    def _wait(self, pid: int, port: int, process: subprocess.Popen[bytes] | None, timeout: float) -> Endpoint:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            exited = process.poll() if process is not None else (None if pid_alive(pid) else -1)
            if exited is not None:
                with contextlib.suppress(OSError):
                    self.record_path.unlink()
                raise LaunchError(f"the embedded default exited ({exited}); its log:\n{self.log_tail()}")
            if self._healthy(port):
                return Endpoint(f"http://127.0.0.1:{port}", self.key, pid)
            time.sleep(0.25)
        raise LaunchError(
            f"the embedded default did not answer within {timeout:.0f} s; log:\n{self.log_tail()}"
        )

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout: float = 30.0) -> bool:
        """True when a running host was stopped."""
        record = self._record()
        if record is None or not pid_alive(record["pid"]) or not _is_devhost(record["pid"]):
            with contextlib.suppress(OSError):
                self.record_path.unlink()
            return False
        pid = record["pid"]
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and pid_alive(pid):
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
            time.sleep(0.1)
        if pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            self.record_path.unlink()
        return True
