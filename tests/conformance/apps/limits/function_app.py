"""Conformance app: activity concurrency bounded by host.json, settings, orchestrators without yield."""

from __future__ import annotations

import asyncio
import os
import threading
import time

import azure.durable_functions as df

app = df.DFApp()

_lock = threading.Lock()
_state = {"running": 0, "peak": 0}


def _enter() -> None:
    with _lock:
        _state["running"] += 1
        _state["peak"] = max(_state["peak"], _state["running"])


def _leave() -> None:
    with _lock:
        _state["running"] -= 1


@app.orchestration_trigger(context_name="context")
def fan(context: df.DurableOrchestrationContext):
    n = context.get_input()
    sync_tasks = [context.call_activity("sync_work", i) for i in range(n)]
    async_tasks = [context.call_activity("async_work", i) for i in range(n)]
    results = yield context.task_all(sync_tasks + async_tasks)
    peak = yield context.call_activity("read_peak", None)
    return {"sum": sum(results), "peak": peak}


@app.orchestration_trigger(context_name="context")
def no_yield(context: df.DurableOrchestrationContext):
    return {"greeting": os.environ.get("LIMITS_APP_GREETING"), "input": context.get_input()}


@app.activity_trigger(input_name="i")
def sync_work(i: int) -> int:
    _enter()
    time.sleep(0.03)
    _leave()
    return i


@app.activity_trigger(input_name="i")
async def async_work(i: int) -> int:
    _enter()
    await asyncio.sleep(0.03)
    _leave()
    return i


@app.activity_trigger(input_name="ignored")
def read_peak(ignored: None) -> int:
    with _lock:
        peak = _state["peak"]
        _state["peak"] = 0
    return peak
