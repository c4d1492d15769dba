"""Wiring only: one Durable Functions app, one blueprint per module."""

from __future__ import annotations

import azure.durable_functions as df
import azure.functions as func

from triggers import blob as blob_trigger
from triggers import http_api, schedule, servicebus

app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)

app.register_functions(http_api.bp)
app.register_functions(blob_trigger.bp)
app.register_functions(servicebus.bp)
app.register_functions(schedule.bp)
