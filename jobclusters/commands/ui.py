"""`ui [RUN_ID]`: the run monitor's address on the app this CLI talks to (the embedded default, started
when needed, or `--url`), with the function key in the URL fragment so the page can call the API; the
fragment never reaches a server or its logs. Opens a browser where one is available."""

from __future__ import annotations

import argparse
import webbrowser
from typing import Any
from urllib.parse import quote

from jobclusters.commands.connect import add_connection_args, connect


def register(subparsers: Any) -> None:
    cmd = subparsers.add_parser("ui", help="print (and open) the run monitor's URL")
    cmd.add_argument("run_id", nargs="?", default=None, help="open this run's page (default: the runs list)")
    cmd.add_argument("--print-url", action="store_true", help="print only the URL, open nothing")
    add_connection_args(cmd)
    cmd.set_defaults(func=ui_command)


def monitor_url(base_url: str, key: str | None, run_id: str | None = None) -> str:
    page = f"/runs/{quote(run_id, safe='')}" if run_id else "/runs"
    fragment = f"{page}?key={quote(key, safe='')}" if key else page
    return f"{base_url.rstrip('/')}/api/ui/#{fragment}"


def ui_command(args: argparse.Namespace) -> int:
    client = connect(args, quiet=args.print_url)
    url = monitor_url(client.base_url, client.key, args.run_id)
    if args.print_url:
        print(url)
        return 0
    print(f"run monitor: {url}")
    try:
        opened = webbrowser.open(url)
    except webbrowser.Error:
        opened = False
    if not opened:
        print("(no browser to open here: paste the URL into one on this machine)")
    return 0
