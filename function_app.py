"""Wiring only: one Durable Functions app, one blueprint per module."""

from __future__ import annotations

import azure.durable_functions as df
import azure.functions as func

from activities import admission as admission_activities
from activities import arrivals as arrival_activities
from activities import batch as batch_activities
from activities import child_run as child_run_activities
from activities import cluster as cluster_activities
from activities import control as control_activities
from activities import data as data_activities
from activities import inputs as input_activities
from activities import notify as notify_activities
from activities import settings_check
from activities import tracking as tracking_activities
from orchestrators import (
    arrivals,
    batch_fanout,
    child_run,
    cluster_run,
    data_activity,
    for_each,
    run_job,
    run_task,
    until,
)
from triggers import budget_watch, eventgrid, http_api, prices, schedule, servicebus, sweeper, ui

app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)

app.register_functions(run_job.bp)
app.register_functions(run_task.bp)
app.register_functions(arrivals.bp)
app.register_functions(batch_fanout.bp)
app.register_functions(cluster_run.bp)
app.register_functions(child_run.bp)
app.register_functions(data_activity.bp)
app.register_functions(for_each.bp)
app.register_functions(until.bp)
app.register_functions(admission_activities.bp)
app.register_functions(batch_activities.bp)
app.register_functions(child_run_activities.bp)
app.register_functions(data_activities.bp)
app.register_functions(cluster_activities.bp)
app.register_functions(control_activities.bp)
app.register_functions(input_activities.bp)
app.register_functions(notify_activities.bp)
app.register_functions(tracking_activities.bp)
app.register_functions(settings_check.bp)
app.register_functions(arrival_activities.bp)
app.register_functions(http_api.bp)
app.register_functions(eventgrid.bp)
app.register_functions(servicebus.bp)
app.register_functions(schedule.bp)
app.register_functions(sweeper.bp)
app.register_functions(ui.bp)
app.register_functions(budget_watch.bp)
app.register_functions(prices.bp)

settings_check.log_problems_at_host_start()
