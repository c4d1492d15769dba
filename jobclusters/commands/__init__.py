"""User subcommands: run, runs, status, cancel, repair, logs, stop, demo, doctor, ui."""

from __future__ import annotations

from typing import Any

from jobclusters.commands import demo, doctor, run, runs, stop, ui


def register(subparsers: Any) -> None:
    for module in (run, runs, stop, demo, doctor, ui):
        module.register(subparsers)
