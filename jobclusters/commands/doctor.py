"""`doctor`: which settings the app's services need and lack, before a run finds out.

The settings are the app's (the environment first, then `local.settings.json` Values, as the host reads
them); the jobs are the registered ones plus any FILE given. One line per missing or malformed setting,
naming the setting, who needs it and what is expected, never a value.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import Any, TextIO

from jobclusters.client.keys import local_settings
from jobclusters.needed_settings import app_problems, registered_jobs
from jobclusters.settings import Settings
from jobclusters.spec.model import Job

PROJECT_DIR = Path(__file__).resolve().parents[2]
EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_BAD_FILE = 2


def register(subparsers: Any) -> None:
    cmd = subparsers.add_parser(
        "doctor", help="list the settings the registered jobs (and FILE) need that are missing or malformed"
    )
    cmd.add_argument("files", nargs="*", metavar="FILE", help="a job definition to check as well")
    cmd.add_argument(
        "--no-registered", action="store_true", help="check only FILE, not the jobs registered in storage"
    )
    cmd.set_defaults(func=doctor_command)


def app_settings(project_dir: Path = PROJECT_DIR) -> Settings:
    return Settings.from_mapping({**local_settings(project_dir), **os.environ})


def _registered(settings: Settings) -> list[tuple[str, Job]]:
    from jobclusters.services.storage import StorageAccount
    from jobclusters.tracking.definitions import TableJobDefinitionStore

    store = TableJobDefinitionStore(StorageAccount.from_settings(settings), settings.table_prefix)
    return asyncio.run(registered_jobs(store))


def doctor_command(
    args: argparse.Namespace, out: TextIO | None = None, settings: Settings | None = None
) -> int:
    out = out or sys.stdout
    settings = settings or app_settings()
    from jobclusters.spec.loader import load_definition

    jobs: list[tuple[str, Job]] = []
    code = EXIT_OK
    for file in args.files:
        result = load_definition(Path(file), required_tags=settings.required_cost_tags)
        if result.job is None or result.errors:
            print(f"{file}: not a valid job definition (see `validate {file}`)", file=out)
            code = EXIT_BAD_FILE
            continue
        jobs.append((file, result.job))
    if not args.no_registered:
        try:
            registered = _registered(settings)
        except Exception as exc:
            print(f"registered jobs: not read from storage ({type(exc).__name__})", file=out)
            code = code or EXIT_PROBLEMS
        else:
            jobs += registered
    problems = app_problems(settings, jobs)
    for found in problems:
        print(f"{'missing' if found.problem.required else 'optional'}: {found.line}", file=out)
    required = sum(f.problem.required for f in problems)
    print(
        f"mode {settings.mode}: {len(jobs)} job(s) checked, {required} required setting problem(s)", file=out
    )
    if required:
        code = code or EXIT_PROBLEMS
    return code
