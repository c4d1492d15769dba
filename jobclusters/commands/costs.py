"""`costs [--job J] [--by job|tag:NAME|compute] [--since 30d]` and `estimate FILE [--json]`."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jobclusters.client.api import ApiClient, ApiClientError
from jobclusters.client.launcher import EmbeddedDefault, LaunchError
from jobclusters.client.progress import render_table
from jobclusters.commands.connect import add_connection_args, connect
from jobclusters.commands.run import print_problems
from jobclusters.cost.catalogue import snapshot
from jobclusters.cost.estimate import estimate
from jobclusters.cost.models import amount_text
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

    estimate = subparsers.add_parser(
        "estimate", help="what a run of a job will cost: expected and worst case"
    )
    estimate.add_argument("file", type=Path, help="the job definition")
    estimate.add_argument(
        "--job-id", default=None, help="the job id its past runs are under (default: from its name)"
    )
    estimate.add_argument("--format", default=None, help="the definition's format when not detected")
    estimate.add_argument("--json", action="store_true")
    add_connection_args(estimate)
    estimate.set_defaults(func=show_estimate)


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
        [name, str(g.runs), amount_text(g.estimate), str(g.unpriced_runs or "")]
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
    money = f"{amount_text(total.estimate)} {summed.currency}"
    print(f"total since {since:%Y-%m-%d %H:%M} UTC: {money} in {total.runs} run(s){note}")
    return 0


#: past runs the expected cost is the median of
HISTORY_RUNS = 20


def _history_client(args: argparse.Namespace) -> ApiClient | None:
    """The API named by --url / JOBCLUSTERS_API_URL, else the embedded default if it is already running:
    an estimate never starts a host just to read history."""
    if getattr(args, "url", None) or os.environ.get("JOBCLUSTERS_API_URL"):
        return connect(args)
    endpoint = EmbeddedDefault().running()
    return ApiClient(endpoint.base_url, endpoint.key) if endpoint else None


def past_task_costs(client: ApiClient, job_id: str) -> tuple[dict[str, list[float]], int]:
    """Per task key, its cost in each of the job's latest ended runs; and how many runs those were."""
    history: dict[str, list[float]] = {}
    runs = 0
    listed = client.list_runs(job=job_id, limit=HISTORY_RUNS).get("runs", [])
    for summary in listed:
        if summary.get("estimated_cost") is None:
            continue
        view = client.get_run(summary["run_id"])
        runs += 1
        for key, task in view.get("tasks", {}).items():
            cost = task.get("cost") or {}
            if cost.get("estimate") is not None:
                history.setdefault(key, []).append(float(cost["estimate"]))
    return history, runs


def show_estimate(args: argparse.Namespace) -> int:
    from jobclusters.settings import get_settings
    from jobclusters.spec import load_definition
    from jobclusters.tracking.definitions import job_id_from_name

    settings = get_settings()
    result = load_definition(args.file, format=args.format, required_tags=settings.required_cost_tags)
    if result.job is None or not result.ok:
        print("the job definition is not valid", file=sys.stderr)
        print_problems([{"path": p.path, "message": p.message} for p in result.errors])
        return 1
    job = result.job
    job_id = args.job_id or job_id_from_name(job.name)
    history: dict[str, list[float]] = {}
    runs = 0
    try:
        client = _history_client(args)
        if client is not None:
            history, runs = past_task_costs(client, job_id)
    except (ApiClientError, LaunchError) as exc:
        print(f"no history ({getattr(exc, 'message', exc)}): expected costs left out", file=sys.stderr)
    found = estimate(job, job_id, snapshot(), history, past_runs=runs, region=settings.price_region)
    if args.json:
        print(json.dumps(found.model_dump(mode="json")))
        return 0
    rows = [
        [key, t.compute, _amount(t.price_per_hour), _amount(t.expected), _amount(t.worst), t.basis]
        for key, t in found.tasks.items()
    ]
    cur = found.currency
    header = ["TASK", "COMPUTE", f"{cur}/HOUR", "EXPECTED", "WORST", "BASIS"]
    for line in render_table(header, rows):
        print(line)
    print(
        f"job {job_id}: expected {_amount(found.total.expected)} {cur} "
        f"({found.past_runs} past run(s)), worst {_amount(found.total.worst)} {cur}"
    )
    return 0


def _amount(value: float | None) -> str:
    return "n/a" if value is None else amount_text(value)
