"""Command line: `python -m devhost --app DIR <command> ...`.

Commands come from modules that expose `add_<name>_command(subparsers)`; each sets
`handler=callable(args) -> int` on its subparser. `orchestrate` lives here; `start` comes from
`devhost.serve.add_start_command` when that module exists.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from devhost.engine_api import RuntimeStatus

# (module, function) pairs that add subcommands; missing modules are skipped.
COMMAND_HOOKS: list[tuple[str, str]] = [
    ("devhost.serve", "add_start_command"),
    ("devhost.triggers.cli", "add_commands"),
]

STATE_FILE = "devhost.sqlite3"


def _command_of(argv: Sequence[str]) -> str | None:
    """The subcommand named in argv (skipping the global options), if any."""
    args = list(argv)
    i = 0
    while i < len(args):
        if args[i] == "--app":
            i += 2
        elif args[i].startswith("-"):
            i += 1
        else:
            return args[i]
    return None


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """`argv` lets `orchestrate` skip importing the other commands (the HTTP and trigger stacks are heavy)."""
    parser = argparse.ArgumentParser(
        prog="python -m devhost",
        description="Run a Python v2 Azure Functions app with Durable Functions on one machine.",
    )
    parser.add_argument("--app", type=Path, default=Path("."), help="directory holding function_app.py")
    parser.add_argument("--verbose", "-v", action="store_true", help="log every orchestrator episode")
    subparsers = parser.add_subparsers(dest="command", required=True)
    add_orchestrate_command(subparsers)
    if argv is not None and _command_of(argv) == "orchestrate":
        return parser
    for module_name, function_name in COMMAND_HOOKS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        getattr(module, function_name)(subparsers)
    return parser


def add_orchestrate_command(subparsers: Any) -> None:
    cmd = subparsers.add_parser(
        "orchestrate",
        help="run one orchestration in-process to its end and print its final state as JSON",
        description="Exit code 0 when the orchestration Completed, 1 otherwise. With --state and an "
        "--instance-id that is still in flight there (e.g. after a crash), it is resumed instead of started.",
    )
    cmd.add_argument("name", help="orchestrator function name")
    cmd.add_argument("--input", default=None, help="orchestration input as JSON text")
    cmd.add_argument(
        "--virtual-time", action="store_true", help="fire due timers as soon as nothing else runs"
    )
    cmd.add_argument("--timeout", type=float, default=None, help="give up after S seconds (exit 1)")
    cmd.add_argument("--state", type=Path, default=None, help="state directory (SQLite); default in memory")
    cmd.add_argument("--instance-id", default=None, help="instance id to start, or to resume when in flight")
    cmd.add_argument("--one-per-episode", action="store_true", help="deliver one completion per episode")
    cmd.add_argument(
        "--check-replay", action="store_true", help="replay from scratch every episode and compare"
    )
    cmd.set_defaults(handler=run_orchestrate)


def _json_or_raw(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


async def _orchestrate(args: argparse.Namespace) -> int:
    from devhost.app_loader import load_app
    from devhost.engine import DurableEngine

    app = load_app(args.app)
    store_path = args.state / STATE_FILE if args.state else None
    engine = DurableEngine(
        app,
        store_path,
        virtual_time=args.virtual_time,
        batch_completions=not args.one_per_episode,
        check_replay=args.check_replay,
    )
    await engine.start()
    try:
        instance_id = args.instance_id
        existing = await engine.get_instance(instance_id) if instance_id else None
        if existing is None:
            instance_id = await engine.start_new(args.name, instance_id=instance_id, input_json=args.input)
        elif existing.name != args.name:
            print(
                f"--instance-id: '{instance_id}' belongs to orchestrator '{existing.name}'", file=sys.stderr
            )
            return 2
        else:
            logging.getLogger("devhost").info(
                "instance %s found in the state directory (%s): resuming",
                instance_id,
                existing.runtime_status,
            )
        try:
            state = await engine.wait_for_terminal(instance_id, timeout=args.timeout)
        except TimeoutError:
            current = await engine.get_instance(instance_id)
            assert current is not None
            state = current
            print(f"timed out after {args.timeout} s", file=sys.stderr)
        print(
            json.dumps(
                {
                    "instanceId": state.instance_id,
                    "runtimeStatus": state.runtime_status.value,
                    "output": _json_or_raw(state.output),
                    "customStatus": _json_or_raw(state.custom_status),
                }
            )
        )
        return 0 if state.runtime_status is RuntimeStatus.COMPLETED else 1
    finally:
        await engine.stop()


def run_orchestrate(args: argparse.Namespace) -> int:
    if args.input is not None:
        try:
            json.loads(args.input)
        except json.JSONDecodeError as exc:
            print(f"--input: not valid JSON ({exc})", file=sys.stderr)
            return 2
    return asyncio.run(_orchestrate(args))


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if not args.verbose:
        logging.getLogger("asyncio").setLevel(logging.WARNING)
    from devhost.app_loader import AppLoadError
    from devhost.engine import UnknownOrchestrator

    try:
        return int(args.handler(args))
    except AppLoadError as exc:
        print(f"--app: {exc}", file=sys.stderr)
        return 2
    except UnknownOrchestrator as exc:
        print(f"name: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
