"""`costs [--job J] [--by job|tag:NAME|compute] [--since 30d]` and `estimate FILE [--json]`."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from jobclusters.client.api import ApiClient, ApiClientError
from jobclusters.client.launcher import LaunchError
from jobclusters.client.progress import render_table
from jobclusters.commands.connect import add_connection_args, connect
from jobclusters.cost.totals import grouping, since_time, totals

PAGE = 200


def register(subparsers: Any) -> None:
    costs = subparsers.add_parser("costs", help="what ended runs cost, summed by job, tag or compute")
    costs.add_argument("--job", default=None, help="only runs of this job id")
    costs.add_argument(
        "--by", default="job", help="job (default), compute, or tag:NAME (e.g. tag:CostCenter)"
    )
    costs.add_argument("--since", default="30d", help="30d, 12h, 90m or an ISO 8601 time (default 30d)")
    costs.add_argument("--json", action="store_true")
    add_connection_args(costs)
    costs.set_defaults(func=show_costs)


def _runs(client: ApiClient, job: str | None, since: datetime) -> Iterator[dict[str, Any]]:
    token = None
    while True:
        page = client.list_runs(job=job, limit=PAGE, continuation=token, **{"from": since.isoformat()})
        yield from page.get("runs", [])
        token = page.get("continuation")
        if not token:
            return


def show_costs(args: argparse.Namespace) -> int:
    try:
        by = grouping(args.by)
        since = since_time(args.since, datetime.now(UTC))
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    try:
        summed = totals(_runs(connect(args), args.job, since), by, since)
    except (ApiClientError, LaunchError) as exc:
        print(getattr(exc, "message", str(exc)), file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(summed.model_dump(mode="json")))
        return 0
    rows = [
        [name, str(g.runs), f"{g.estimate:.4f}", str(g.unpriced_runs or "")]
        for name, g in summed.groups.items()
    ]
    header = [
        by.upper() if not by.startswith("tag:") else by[4:].upper(),
        "RUNS",
        f"COST ({summed.currency})",
    ]
    for line in render_table([*header, "NO PRICE"], rows):
        print(line)
    total = summed.total
    note = f", {total.unpriced_runs} run(s) with no price not included" if total.unpriced_runs else ""
    money = f"{total.estimate:.4f} {summed.currency}"
    print(f"total since {since:%Y-%m-%d %H:%M} UTC: {money} in {total.runs} run(s){note}")
    return 0
