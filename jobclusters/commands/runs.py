"""`runs`, `status RUN_ID`, `cancel RUN_ID`, `repair RUN_ID`, `logs RUN_ID TASK`."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from jobclusters.client.api import ApiClientError
from jobclusters.client.launcher import LaunchError
from jobclusters.client.progress import print_summary, render_table, result_json
from jobclusters.commands.connect import add_connection_args, connect
from jobclusters.commands.run import follow_and_report, print_problems


def register(subparsers: Any) -> None:
    runs = subparsers.add_parser("runs", help="list runs, newest first")
    runs.add_argument("--job", default=None, help="only runs of this job id")
    runs.add_argument("--status", default=None, help="only runs in these states (comma-separated)")
    runs.add_argument("--from", dest="since", default=None, help="created at or after (ISO 8601)")
    runs.add_argument("--to", dest="until", default=None, help="created at or before (ISO 8601)")
    runs.add_argument("--limit", type=int, default=20)
    runs.add_argument("--continuation", default=None, help="token printed by the previous page")
    runs.add_argument("--json", action="store_true")
    add_connection_args(runs)
    runs.set_defaults(func=_guard(list_runs))

    status = subparsers.add_parser("status", help="a run with its task runs")
    status.add_argument("run_id")
    status.add_argument("--json", action="store_true")
    add_connection_args(status)
    status.set_defaults(func=_guard(show_status))

    cancel = subparsers.add_parser("cancel", help="cancel a run (its remote work is cancelled too)")
    cancel.add_argument("run_id")
    cancel.add_argument("--reason", default=None)
    add_connection_args(cancel)
    cancel.set_defaults(func=_guard(cancel_run))

    repair = subparsers.add_parser("repair", help="rerun the failed tasks of a run and their dependents")
    repair.add_argument("run_id")
    repair.add_argument("--task", action="append", default=None, help="rerun only these tasks (repeatable)")
    repair.add_argument("--no-dependents", action="store_true", help="do not rerun downstream tasks")
    repair.add_argument("--wait", action="store_true", help="follow the repair run to its end")
    repair.add_argument("--json", action="store_true")
    add_connection_args(repair)
    repair.set_defaults(func=_guard(repair_run))

    logs = subparsers.add_parser("logs", help="the logs of one task of a run")
    logs.add_argument("run_id")
    logs.add_argument("task")
    add_connection_args(logs)
    logs.set_defaults(func=_guard(task_logs))


def _guard(command: Any) -> Any:
    def run(args: argparse.Namespace) -> int:
        try:
            return int(command(args))
        except LaunchError as exc:
            print(f"cannot start the embedded default: {exc}", file=sys.stderr)
            return 1
        except ApiClientError as exc:
            print(exc.message, file=sys.stderr)
            print_problems(exc.problems)
            return 1

    return run


def list_runs(args: argparse.Namespace) -> int:
    page = connect(args).list_runs(
        job=args.job,
        status=args.status,
        limit=args.limit,
        continuation=args.continuation,
        **{"from": args.since, "to": args.until},
    )
    if args.json:
        print(json.dumps(page))
        return 0
    rows = [
        [
            r["run_id"],
            r["job_id"],
            r["state"],
            str(r.get("trigger_kind") or "-"),
            str(r.get("created_at"))[:19],
            str(r.get("repair_count") or 0),
            (r.get("error_message") or "")[:50],
        ]
        for r in page["runs"]
    ]
    for line in render_table(["RUN", "JOB", "STATE", "TRIGGER", "CREATED", "REPAIRS", "MESSAGE"], rows):
        print(line)
    if page.get("continuation"):
        print(f"more: --continuation {page['continuation']}")
    return 0


def show_status(args: argparse.Namespace) -> int:
    view = connect(args).get_run(args.run_id)
    if args.json:
        print(json.dumps(view))
        return 0
    repairs = int(view.get("repair_count") or 0)
    print(
        f"run {view['run_id']} of job {view.get('job_id')}: {view['state']}"
        f"{f' after {repairs} repair(s)' if repairs else ''}"
        f"{' (' + view['message'] + ')' if view.get('message') else ''}"
    )
    if view.get("trigger"):
        print(f"trigger: {view['trigger'].get('kind')} {json.dumps(view['trigger'].get('detail') or {})}")
    print_summary(view, sys.stdout)
    queued = {k: t["queue_seconds"] for k, t in view.get("tasks", {}).items() if t.get("queue_seconds")}
    if queued:
        waits = ", ".join(f"{key} {seconds:.1f}s" for key, seconds in queued.items())
        print(f"queued before the work started (not in DURATION): {waits}")
    return 0


def cancel_run(args: argparse.Namespace) -> int:
    connect(args).cancel_run(args.run_id, args.reason)
    print(f"cancel requested for run {args.run_id}")
    return 0


def repair_run(args: argparse.Namespace) -> int:
    client = connect(args)
    started = client.repair_run(args.run_id, args.task, rerun_dependents=not args.no_dependents)
    print(
        f"repair {started['repair_number']} of run {started['of_run_id']}: run {started['run_id']} reruns "
        f"{', '.join(started['rerun_tasks'])}"
    )
    if not args.wait:
        if args.json:
            print(json.dumps(result_json(client.get_run(started["run_id"]))))
        return 0
    return follow_and_report(client, started["run_id"], json_output=args.json, timeout=None)


def task_logs(args: argparse.Namespace) -> int:
    logs = connect(args).task_logs(args.run_id, args.task)
    print(f"task {logs['task_key']} of run {logs['run_id']}: {logs.get('state')}")
    if logs.get("message"):
        print(logs["message"])
    for attempt in logs.get("attempts", []):
        which = f"attempt {attempt['attempt']}"
        if attempt.get("generation"):
            which += f" of repair {attempt['generation']}"
        code = attempt.get("exit_code")
        print(f"--- {which} ({attempt['state']}{'' if code is None else f', exit code {code}'})")
        for name, text in attempt.get("logs", {}).items():
            print(f"----- {name}")
            print(text.rstrip())
        for name, url in attempt.get("links", {}).items():
            if name not in attempt.get("logs", {}):
                print(f"----- {name}: {url}")
    return 0
