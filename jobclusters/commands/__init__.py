"""User subcommands: run, runs, status, cancel, repair, logs, stop, demo, doctor, ui, costs, estimate."""

from __future__ import annotations

from typing import Any

from jobclusters.commands import costs, demo, doctor, run, runs, stop, ui


def register(subparsers: Any) -> None:
    for module in (run, runs, stop, demo, doctor, ui, costs):
        module.register(subparsers)
