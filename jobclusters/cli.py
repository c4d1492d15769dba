"""`python -m jobclusters ...`: the user's command line.

Each command module exposes `register(subparsers)`, which adds its sub-parsers and sets `func` (a
callable taking the parsed arguments and returning the exit code). To add a command, add its module to
`COMMAND_MODULES`.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

COMMAND_MODULES: list[str] = ["jobclusters.spec.commands", "jobclusters.commands"]

PROJECT_DIR = Path(__file__).resolve().parent.parent


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m jobclusters", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    if "demo" not in subparsers.choices:  # jobclusters.commands registers the full demo
        demo = subparsers.add_parser("demo", help="validate and simulate every seed example (make demo)")
        demo.add_argument("--examples", type=Path, default=PROJECT_DIR / "examples", help="examples folder")
        demo.set_defaults(func=run_demo)
    return parser


#: what a shell reports for a process killed by SIGPIPE (128 + 13), as `yes | head` shows
EXIT_BROKEN_PIPE = 141


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code = int(args.func(args))
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        return _reader_went_away()


def _reader_went_away() -> int:
    """`jobclusters runs | head`: the reader closed the pipe, so stop quietly like a unix tool would.

    Python ignores SIGPIPE and raises instead; stdout is pointed at /dev/null so the interpreter's final
    flush of what is still buffered does not raise (and print) again on the way out.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return EXIT_BROKEN_PIPE


# ------------------------------------------------------------------ demo (issue 7 makes it a real run)


def _demo_files(examples: Path) -> list[Path]:
    return [*sorted((examples / "seed").glob("*.json")), *sorted((examples / "native").glob("*.*"))]


def run_demo(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    from jobclusters.settings import get_settings
    from jobclusters.spec.commands import render_text, simulation_json
    from jobclusters.spec.loader import load_definition
    from jobclusters.spec.model import TaskState

    tags = get_settings().required_cost_tags
    files = _demo_files(args.examples)
    if not files:
        print(f"no examples under {args.examples}", file=out)
        return 1
    valid = 0
    for path in files:
        shown = path.relative_to(args.examples.parent) if path.is_relative_to(args.examples.parent) else path
        result = load_definition(path, required_tags=tags)
        print("=" * 100, file=out)
        for line in render_text(str(shown), result):
            print(line, file=out)
        verdict = "VALID" if not result.errors else f"INVALID ({len(result.errors)} error(s))"
        print(f"=> {verdict}", file=out)
        valid += not result.errors
        job = result.job
        if (
            job is None
            or not job.tasks
            or any(p.code in {"cycle", "unknown-dependency"} for p in result.errors)
        ):
            continue
        print(f"simulated, all succeed: {json.dumps(simulation_json(job, {}, {}))}", file=out)
        first = job.tasks[0].key
        failed = simulation_json(job, {first: TaskState.FAILED}, {})
        print(f"simulated, {first} FAILED: {json.dumps(failed)}", file=out)
    print("=" * 100, file=out)
    print(
        f"{len(files)} definitions: {valid} valid, {len(files) - valid} with errors (listed above)", file=out
    )
    return 0
