"""Start and stop the Azurite storage emulator from the project's node_modules.

Shared by devhost (which starts it when `UseDevelopmentStorage=true` and nothing listens) and by the
tests (which start a private instance on free ports so they never touch a developer's running one).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from devhost.ports import free_port, is_listening

# The emulator's documented, public well-known account; not a secret.
ACCOUNT_NAME = "devstoreaccount1"
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
DEFAULT_PORTS = (10000, 10001, 10002)


class AzuriteUnavailable(RuntimeError):
    """Azurite cannot be started: Node.js or the npm package is missing."""


def connection_string(host: str = "127.0.0.1", ports: tuple[int, int, int] = DEFAULT_PORTS) -> str:
    blob, queue, table = ports
    base = f"http://{host}"
    return (
        f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT_NAME};AccountKey={ACCOUNT_KEY};"
        f"BlobEndpoint={base}:{blob}/{ACCOUNT_NAME};"
        f"QueueEndpoint={base}:{queue}/{ACCOUNT_NAME};"
        f"TableEndpoint={base}:{table}/{ACCOUNT_NAME};"
    )


def find_azurite_entry(start: Path) -> Path:
    """Find `node_modules/azurite/dist/src/azurite.js` in `start` or a parent folder."""
    for folder in [start, *start.parents]:
        candidate = folder / "node_modules" / "azurite" / "dist" / "src" / "azurite.js"
        if candidate.is_file():
            return candidate
    raise AzuriteUnavailable(
        f"Azurite is not installed under {start} or its parents: run `npm install` (or `make setup`) "
        "in the project folder."
    )


@dataclass
class AzuriteProcess:
    """A running Azurite; `stop()` ends it. Usable as a context manager."""

    ports: tuple[int, int, int]
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    _log: object = field(default=None, repr=False)

    @property
    def connection_string(self) -> str:
        return connection_string(ports=self.ports)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if self._log is not None:
            with contextlib.suppress(Exception):
                self._log.close()  # type: ignore[attr-defined]

    def __enter__(self) -> AzuriteProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_azurite(
    location: Path | None,
    *,
    ports: tuple[int, int, int] | None = None,
    project_dir: Path | None = None,
    ready_timeout: float = 30.0,
) -> AzuriteProcess:
    """Start Azurite and wait until all three services accept connections.

    `location=None` keeps everything in memory (tests); a folder persists across restarts (devhost).
    `ports=None` picks three free loopback ports.
    """
    node = shutil.which("node")
    if node is None:
        raise AzuriteUnavailable("Node.js (`node`) is not on PATH: install Node.js 18+ to run Azurite.")
    entry = find_azurite_entry(project_dir or Path.cwd())
    chosen = ports or (free_port(), free_port(), free_port())
    args = [
        node,
        str(entry),
        "--silent",
        "--disableTelemetry",
        "--skipApiVersionCheck",
        "--loose",
        "--blobHost", "127.0.0.1", "--blobPort", str(chosen[0]),
        "--queueHost", "127.0.0.1", "--queuePort", str(chosen[1]),
        "--tableHost", "127.0.0.1", "--tablePort", str(chosen[2]),
    ]
    log_path: Path | None = None
    if location is None:
        args.append("--inMemoryPersistence")
        log = subprocess.DEVNULL
        log_file = None
    else:
        location.mkdir(parents=True, exist_ok=True)
        args += ["--location", str(location)]
        log_path = location / "azurite.log"
        log_file = open(log_path, "ab")  # noqa: SIM115 - lives as long as the process
        log = log_file  # type: ignore[assignment]
    proc = subprocess.Popen(
        args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        env={**os.environ},
    )
    handle = AzuriteProcess(ports=chosen, process=proc, log_path=log_path, _log=log_file)
    deadline = time.monotonic() + ready_timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            handle.stop()
            raise AzuriteUnavailable(f"Azurite exited with code {proc.returncode} (log: {log_path})")
        if all(is_listening(p) for p in chosen):
            return handle
        time.sleep(0.05)
    handle.stop()
    raise AzuriteUnavailable(f"Azurite did not listen on {chosen} within {ready_timeout:.0f}s")


def uses_development_storage(connection: str | None) -> bool:
    return (connection or "").replace(" ", "").lower().rstrip(";") == "usedevelopmentstorage=true"


def ensure_local_storage(
    connection: str | None, state_dir: Path, *, project_dir: Path
) -> AzuriteProcess | None:
    """Start Azurite on the default ports when the app asks for development storage and none is running.

    Returns the process devhost must stop on exit, or None when nothing was started (a real account, or
    an emulator that already listens).
    """
    if not uses_development_storage(connection):
        return None
    if all(is_listening(p) for p in DEFAULT_PORTS):
        return None
    return start_azurite(state_dir / "azurite", ports=DEFAULT_PORTS, project_dir=project_dir)
