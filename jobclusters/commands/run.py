"""`run FILE`: validate locally, register, start, follow to the end, summarise."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from jobclusters.client.api import ApiClient, ApiClientError
from jobclusters.client.launcher import LaunchError
from jobclusters.client.progress import exit_code, follow, print_summary, result_json
from jobclusters.commands.connect import add_connection_args, connect


def register(subparsers: Any) -> None:
    cmd = subparsers.add_parser(
        "run",
        help="register a job file and run it on the embedded default (or --url), showing progress",
        description="Exit code: 0 when the run ends SUCCESS or SUCCESS_WITH_FAILURES, 1 otherwise (also "
        "SKIPPED by max_concurrent_runs: nothing ran), 2 for a definition or usage error. "
        "With --json the last line of output is one JSON object "
        '{"run_id", "result", "tasks": {task_key: {"state", "attempts", "start", "end", ...}}}.',
    )
    cmd.add_argument("file", type=Path, help="job definition (JSON or YAML, any supported format)")
    cmd.add_argument("--param", action="append", default=[], metavar="K=V", help="job parameter (repeatable)")
    wait = cmd.add_mutually_exclusive_group()
    wait.add_argument(
        "--wait",
        dest="wait",
        action="store_true",
        default=True,
        help="follow the run to its end (the default)",
    )
    wait.add_argument("--no-wait", dest="wait", action="store_false", help="start the run and return")
    cmd.add_argument("--json", action="store_true", help="print the result as one JSON object, last line")
    cmd.add_argument("--job-id", default=None, help="register under this id (default: from the job name)")
    cmd.add_argument("--format", default=None, help="force the definition format (default: detected)")
    cmd.add_argument("--timeout", type=float, default=None, help="stop following after S seconds (exit 1)")
    add_port_arg(cmd)
    add_connection_args(cmd)
    cmd.set_defaults(func=run_command)


def add_port_arg(cmd: Any) -> None:
    cmd.add_argument(
        "--port",
        type=int,
        default=None,
        help="port of the embedded default when this starts it (default: JOBCLUSTERS_PORT, else 7071 "
        "when free, else any free port); a taken port is an error",
    )


def parse_params(items: list[str]) -> dict[str, str]:
    params: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--param: {item!r} is not K=V")
        params[key.strip()] = value
    return params


def print_problems(problems: list[dict[str, Any]], out: Any = None) -> None:
    for problem in problems:
        print(f"  {problem.get('path')}: {problem.get('message')}", file=out or sys.stderr)


def register_and_start(
    client: ApiClient,
    path: Path,
    params: dict[str, str],
    *,
    job_id: str | None = None,
    format: str | None = None,
) -> tuple[str, str]:
    """(job id, run id). Raises ApiClientError (with problems) when the server refuses the definition."""
    from jobclusters.spec.loader import read_document

    document = read_document(path)
    registered = client.register_job(
        document, job_id=job_id, base_dir=str(path.resolve().parent), format=format
    )
    started = client.start_job(registered["job_id"], params)
    return registered["job_id"], started["run_id"]


def _local_check(path: Path, format: str | None, params: dict[str, str]) -> tuple[str, list[dict[str, Any]]]:
    """What is wrong before anything starts: the definition's errors, else the `--param`s it does not
    declare (the server refuses those too; checking here spares starting the embedded default)."""
    from jobclusters.run_request import undeclared_parameters
    from jobclusters.settings import get_settings
    from jobclusters.spec import load_definition

    result = load_definition(path, format=format, required_tags=get_settings().required_cost_tags)
    if result.job is None or not result.ok:
        problems = [{"path": p.path, "message": p.message} for p in result.errors]
        return "the job definition is not valid", problems or [
            {"path": "$", "message": "not a job definition"}
        ]
    unknown = undeclared_parameters(result.job, params)
    return "unknown --param", [{"path": "--param", "message": p.message} for p in unknown]


def run_command(args: argparse.Namespace) -> int:
    out = sys.stdout
    try:
        params = parse_params(args.param)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    what, problems = _local_check(args.file, args.format, params)
    if problems:
        print(f"{args.file}: {what}:", file=sys.stderr)
        print_problems(problems)
        return 2
    try:
        client = connect(args)
        job_id, run_id = register_and_start(client, args.file, params, job_id=args.job_id, format=args.format)
    except LaunchError as exc:
        print(f"cannot start the embedded default: {exc}", file=sys.stderr)
        return 1
    except ApiClientError as exc:
        print(f"{args.file}: {exc.message}", file=sys.stderr)
        print_problems(exc.problems)
        return 2 if exc.status == 400 else 1
    print(f"job {job_id}: run {run_id} started", file=out, flush=True)
    if not args.wait:
        if args.json:
            print(json.dumps({"run_id": run_id, "result": None, "tasks": {}}), file=out)
        return 0
    return follow_and_report(client, run_id, json_output=args.json, timeout=args.timeout)


def follow_and_report(client: ApiClient, run_id: str, *, json_output: bool, timeout: float | None) -> int:
    out = sys.stdout
    try:
        view = follow(client, run_id, out, timeout=timeout)
    except KeyboardInterrupt:
        print(
            f"\nstopped following; the run goes on. Cancel it with: python -m jobclusters cancel {run_id}",
            file=sys.stderr,
        )
        return 130
    except TimeoutError as exc:
        print(str(exc), file=sys.stderr)
        view = client.get_run(run_id)
        if json_output:
            print(json.dumps(result_json(view)), file=out)
        return 1
    except ApiClientError as exc:
        print(f"lost the run: {exc}", file=sys.stderr)
        return 1
    print("", file=out)
    print_summary(view, out)
    if json_output:
        print(json.dumps(result_json(view)), file=out)
    return exit_code(view)
