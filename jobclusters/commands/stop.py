"""`stop`: end the embedded default (devhost, and the Azurite it started)."""

from __future__ import annotations

import argparse
from typing import Any

from jobclusters.client.launcher import EmbeddedDefault


def register(subparsers: Any) -> None:
    cmd = subparsers.add_parser("stop", help="stop the embedded default started by run / demo")
    cmd.set_defaults(func=stop_command)


def stop_command(args: argparse.Namespace) -> int:
    stopped = EmbeddedDefault().stop()
    print("embedded default stopped" if stopped else "the embedded default is not running")
    return 0
