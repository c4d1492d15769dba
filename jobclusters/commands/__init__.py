"""User subcommands: run, runs, status, cancel, repair, logs, stop, demo, doctor."""

from __future__ import annotations

from typing import Any

from jobclusters.commands import demo, doctor, run, runs, stop


def register(subparsers: Any) -> None:
    for module in (run, runs, stop, demo, doctor):
        module.register(subparsers)
