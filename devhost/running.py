"""Which hosts of an app run now, so commands that need a host's state folder find it without `--state`.

`start` writes `<app>/.devhost/running/<pid>.json` (state folder, port) while it serves and removes it when
it stops; a record whose process is gone is ignored (and cleaned up). A command that needs the state folder
takes `--state`, else the one running host's, else the default `<app>/.devhost`. With several running hosts
the one whose state folder lies inside the app folder wins (`<app>/.devhost`, or `<app>/.state/devhost` of
the jobclusters CLI's embedded default; hosts with a state folder elsewhere, such as tests', are found with
`--state`); when that leaves no single host it asks for `--state` rather than guess (a message sent to the
wrong folder would silently never run).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

DEFAULT_STATE_DIR_NAME = ".devhost"
RUNNING_DIR = "running"


class AmbiguousState(RuntimeError):
    """Several hosts of the app run: the command must be told which one (`--state`)."""


@dataclass(frozen=True)
class RunningHost:
    pid: int
    port: int | None
    state_dir: Path


def _records(app_dir: Path) -> Path:
    return app_dir / DEFAULT_STATE_DIR_NAME / RUNNING_DIR


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def running_record(app_dir: Path, state_dir: Path, port: int | None) -> Iterator[Path]:
    folder = _records(app_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{os.getpid()}.json"
    path.write_text(json.dumps({"pid": os.getpid(), "port": port, "state": str(state_dir.resolve())}))
    try:
        yield path
    finally:
        with contextlib.suppress(OSError):
            path.unlink()


def running_hosts(app_dir: Path) -> list[RunningHost]:
    found: list[RunningHost] = []
    folder = _records(app_dir)
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            data = json.loads(path.read_text())
            host = RunningHost(int(data["pid"]), data.get("port"), Path(data["state"]))
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if _alive(host.pid):
            found.append(host)
        else:
            with contextlib.suppress(OSError):
                path.unlink()
    return found


def state_dir_for(app_dir: Path, given: Path | None) -> Path:
    """`given`, else the running host's state folder, else the default `<app>/.devhost`."""
    if given is not None:
        return given
    hosts = {h.state_dir: h for h in running_hosts(app_dir)}
    inside = {d: h for d, h in hosts.items() if d.resolve().is_relative_to(app_dir.resolve())}
    if len(hosts) > 1 and len(inside) == 1:
        return next(iter(inside))
    if len(hosts) > 1:
        listed = ", ".join(f"{h.state_dir} (pid {h.pid}, port {h.port})" for h in hosts.values())
        raise AmbiguousState(f"several hosts of {app_dir} run; choose one with --state: {listed}")
    if hosts:
        return next(iter(hosts))
    return app_dir / DEFAULT_STATE_DIR_NAME
