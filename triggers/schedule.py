"""Timer trigger: each tick (every minute by default: app setting `JOBCLUSTERS_SCHEDULER_CRON`, NCRONTAB)
starts the runs that registered jobs' Quartz schedules made due since the previous tick.

A fire's run id is `derive_run_id(job_id, "schedule", <fire time>)`, so ticks may overlap (each looks back
`LOOKBACK` seconds, more than one tick) and a restarted host never starts a fire twice. Fires before a
job's registration, and fires missed for longer than the look-back, are not replayed (Databricks skips
missed fires too). Paused schedules start nothing.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import azure.durable_functions as df
import azure.functions as func

from jobclusters.quartz import QuartzSchedule
from jobclusters.run_request import TriggerInfo
from jobclusters.services.factory import trigger_services
from jobclusters.tracking.definitions import JobDefinitionStore, JobSummary
from triggers.starter import StartOutcome, new_run_request, start_run

LOOKBACK = timedelta(seconds=90)
MAX_FIRES_PER_TICK = 10

bp = df.Blueprint()
log = logging.getLogger("jobclusters.triggers.schedule")


def due_fires(summary: JobSummary, now: datetime, lookback: timedelta = LOOKBACK) -> list[datetime]:
    schedule = summary.schedule
    if schedule is None or schedule.pause_status == "PAUSED":
        return []
    quartz = QuartzSchedule.parse(schedule.quartz_cron_expression, schedule.timezone_id)
    registered = datetime.fromisoformat(summary.updated_at)
    start = max(now - lookback, registered)
    return list(quartz.fires_between(start, now))[-MAX_FIRES_PER_TICK:]


async def start_due_runs(store: JobDefinitionStore, client: Any, now: datetime) -> list[StartOutcome]:
    outcomes: list[StartOutcome] = []
    for summary in await store.list():
        try:
            fires = due_fires(summary, now)
        except ValueError as exc:
            log.error("job %s: schedule is not usable: %s", summary.job_id, exc)
            continue
        if not fires:
            continue
        definition = await store.get(summary.job_id)
        if definition is None or definition.job.schedule is None:
            continue
        for fire in fires:
            stamp = fire.isoformat()
            request = new_run_request(
                job_id=summary.job_id,
                job=definition.job,
                trigger=TriggerInfo(
                    kind="schedule",
                    detail={
                        "scheduled_time": stamp,
                        "quartz_cron_expression": definition.job.schedule.quartz_cron_expression,
                        "timezone_id": definition.job.schedule.timezone_id,
                    },
                ),
                identity=("schedule", stamp),
                base_dir=definition.base_dir,
            )
            outcome = await start_run(client, request)
            outcomes.append(outcome)
            if outcome.started:
                log.info("schedule of job %s fired at %s: run %s", summary.job_id, stamp, outcome.run_id)
    return outcomes


@bp.timer_trigger(
    schedule="%JOBCLUSTERS_SCHEDULER_CRON%", arg_name="timer", run_on_startup=False, use_monitor=False
)
@bp.durable_client_input(client_name="client")
async def start_scheduled_runs(timer: func.TimerRequest, client: df.DurableOrchestrationClient) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    await start_due_runs(trigger_services().definitions, client, now)
