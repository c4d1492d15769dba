"""The settings a run's services need, checked before the run starts and once at host start.

Orchestrators may not read settings (replays would see today's), so `run_job` asks this activity which
tasks cannot start; those fail at once with a one-line reason instead of failing, and being retried, at
the first service call.
"""

from __future__ import annotations

import asyncio
import logging
import threading

import azure.durable_functions as df

from jobclusters.execution.messages import SettingsCheckInput, SettingsCheckResult
from jobclusters.execution.registry import CHECK_JOB_SETTINGS, activity
from jobclusters.needed_settings import (
    JobProblem,
    app_problems,
    blocked_tasks,
    registered_jobs,
    setting_problems,
)
from jobclusters.services import factory

bp = df.Blueprint()
log = logging.getLogger(__name__)


@activity(bp, CHECK_JOB_SETTINGS)
def check_job_settings(inp: SettingsCheckInput) -> SettingsCheckResult:
    settings = factory.settings()
    for problem in setting_problems(inp.job, settings):
        if not problem.required:
            log.warning("job %s: %s", inp.job.name, problem.message)
    return SettingsCheckResult(blocked=blocked_tasks(inp.job, settings))


def log_problems_at_host_start() -> threading.Thread | None:
    """One warning line per missing or malformed setting. On Azure the registered jobs are read in the
    background (storage may be slow to answer; the thread is returned); local mode needs no service
    setting, so nothing is read."""
    settings = factory.settings()
    if settings.mode == "local":
        _log(app_problems(settings, []))
        return None
    thread = threading.Thread(target=_check_registered_jobs, name="settings-check", daemon=True)
    thread.start()
    return thread


def _check_registered_jobs() -> None:
    settings = factory.settings()
    try:
        jobs = asyncio.run(registered_jobs(factory.get_job_definitions()))
    except Exception as exc:  # the check must never stop the host
        log.warning("settings check: the registered jobs could not be read (%s)", type(exc).__name__)
        jobs = []
    _log(app_problems(settings, jobs))


def _log(problems: list[JobProblem]) -> None:
    for found in problems:
        log.warning("settings check: %s", found.line)
