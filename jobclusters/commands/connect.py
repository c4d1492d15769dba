"""Which API a command talks to: `--url` / `JOBCLUSTERS_API_URL` (a deployed app, key from
`JOBCLUSTERS_API_KEY`), else the embedded default, started if it is not running."""

from __future__ import annotations

import argparse
import os
import sys

from jobclusters.client.api import ApiClient
from jobclusters.client.keys import function_key
from jobclusters.client.launcher import PROJECT_DIR, EmbeddedDefault


def add_connection_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--url",
        default=None,
        help="API base URL of a running app (default: the embedded "
        "default on this machine, started when needed; or JOBCLUSTERS_API_URL)",
    )


def connect(args: argparse.Namespace, *, quiet: bool = False) -> ApiClient:
    url = getattr(args, "url", None) or os.environ.get("JOBCLUSTERS_API_URL")
    if url:
        return ApiClient(url, function_key(PROJECT_DIR))

    def announce() -> None:
        if not quiet:
            print(
                "starting the embedded default (devhost + Azurite + local Batch + local cluster)...",
                file=sys.stderr,
                flush=True,
            )

    endpoint = EmbeddedDefault(port=getattr(args, "port", None)).ensure(on_start=announce)
    return ApiClient(endpoint.base_url, endpoint.key)
