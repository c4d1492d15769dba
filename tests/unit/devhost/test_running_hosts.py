"""Which state folder a command without `--state` uses: the running host's (records of live processes
only), the one inside the app folder when several run, else it asks; and how `--body` text is typed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from devhost.running import AmbiguousState, running_hosts, running_record, state_dir_for
from devhost.triggers.cli import body_content_type


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_no_running_host_means_the_default_folder(tmp_path: Path) -> None:
    assert state_dir_for(tmp_path, None) == tmp_path / ".devhost"
    assert state_dir_for(tmp_path, tmp_path / "given") == tmp_path / "given"


def test_the_running_host_is_found_while_it_serves_and_forgotten_after(tmp_path: Path) -> None:
    elsewhere = tmp_path.parent / f"{tmp_path.name}-state"
    with running_record(tmp_path, elsewhere, 7123):
        [host] = running_hosts(tmp_path)
        assert (host.pid, host.port) == (os.getpid(), 7123)
        assert state_dir_for(tmp_path, None) == elsewhere.resolve()
    assert running_hosts(tmp_path) == []
    assert state_dir_for(tmp_path, None) == tmp_path / ".devhost"


def test_a_record_of_a_dead_process_is_ignored_and_removed(tmp_path: Path) -> None:
    records = tmp_path / ".devhost" / "running"
    records.mkdir(parents=True)
    stale = records / "1.json"
    stale.write_text(json.dumps({"pid": dead_pid(), "port": 1, "state": str(tmp_path / "old")}))
    assert running_hosts(tmp_path) == []
    assert not stale.exists()


def test_with_several_hosts_the_one_inside_the_app_wins_else_the_command_asks(tmp_path: Path) -> None:
    app = tmp_path / "app"
    records = app / ".devhost" / "running"
    records.mkdir(parents=True)
    me = os.getpid()
    (records / "a.json").write_text(json.dumps({"pid": me, "port": 1, "state": str(tmp_path / "tests")}))
    (records / "b.json").write_text(json.dumps({"pid": me, "port": 2, "state": str(app / ".state/devhost")}))
    assert state_dir_for(app, None) == app / ".state/devhost"
    (records / "c.json").write_text(json.dumps({"pid": me, "port": 3, "state": str(app / ".devhost")}))
    with pytest.raises(AmbiguousState, match="--state"):
        state_dir_for(app, None)


@pytest.mark.parametrize(
    ("body", "given", "expected"),
    [
        ('{"id": 1}', None, "application/json"),
        ('"hello"', None, "application/json"),
        ("plain text", None, "text/plain"),
        ("plain text", "text/csv", "text/csv"),
        ("42", None, "application/json"),
    ],
)
def test_any_text_is_a_body_json_only_when_it_parses(body: str, given: str | None, expected: str) -> None:
    assert body_content_type(body, given) == expected


@pytest.mark.parametrize(("body", "given"), [("{oops", None), ("[1,", None), ("nope", "application/json")])
def test_a_body_meant_as_json_that_does_not_parse_is_refused(body: str, given: str | None) -> None:
    with pytest.raises(ValueError, match="--body: not valid JSON"):
        body_content_type(body, given)
