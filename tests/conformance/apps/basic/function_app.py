"""Conformance app: the everyday durable patterns, one orchestrator each."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.orchestration_trigger(context_name="context")
def chaining(context: df.DurableOrchestrationContext):
    x = context.get_input() or {"n": 3}
    results = []
    for i in range(x["n"]):
        results.append((yield context.call_activity("double", i)))
    return results


@app.orchestration_trigger(context_name="context", orchestration="FanOut")
def fan_out(context: df.DurableOrchestrationContext):
    n = context.get_input()
    tasks = [context.call_activity("double", i) for i in range(n)]
    results = yield context.task_all(tasks)
    return sum(results)


@app.orchestration_trigger(context_name="context")
def mixed_sync_async(context: df.DurableOrchestrationContext):
    a = yield context.call_activity("double", 4)
    b = yield context.call_activity("async_greet", "world")
    return [a, b]


@app.orchestration_trigger(context_name="context")
def monitor(context: df.DurableOrchestrationContext):
    state = context.get_input() or {"round": 0, "seen": []}
    status = yield context.call_activity("double", state["round"])
    state["seen"].append(status)
    if state["round"] >= 3:
        return state["seen"]
    yield context.create_timer(context.current_utc_datetime + timedelta(minutes=30))
    state["round"] += 1
    context.continue_as_new(state)
    return None


@app.orchestration_trigger(context_name="context")
def approval(context: df.DurableOrchestrationContext):
    timeout = context.get_input() or 3600
    deadline = context.current_utc_datetime + timedelta(seconds=timeout)
    timer = context.create_timer(deadline)
    event = context.wait_for_external_event("Approval")
    context.set_custom_status("waiting")
    winner = yield context.task_any([event, timer])
    if winner == event:
        timer.cancel()
        context.set_custom_status("approved")
        return {"approved": True, "by": event.result}
    context.set_custom_status("timed out")
    return {"approved": False}


@app.orchestration_trigger(context_name="context")
def early_event(context: df.DurableOrchestrationContext):
    first = yield context.call_activity("slow", 0.3)
    data = yield context.wait_for_external_event("Go")
    return [first, data]


@app.orchestration_trigger(context_name="context")
def parent(context: df.DurableOrchestrationContext):
    retry = df.RetryOptions(first_retry_interval_in_milliseconds=10, max_number_of_attempts=3)
    a = yield context.call_sub_orchestrator("child", 5, instance_id=f"{context.instance_id}:child-a")
    b = yield context.call_sub_orchestrator_with_retry("flaky_child", retry, f"{context.instance_id}:k1")
    many = yield context.task_all([context.call_sub_orchestrator("child", i) for i in range(3)])
    return {"a": a, "b": b, "many": many}


@app.orchestration_trigger(context_name="context")
def child(context: df.DurableOrchestrationContext):
    n = context.get_input()
    doubled = yield context.call_activity("double", n)
    return doubled + 1


@app.orchestration_trigger(context_name="context")
def flaky_child(context: df.DurableOrchestrationContext):
    key = context.get_input()
    attempt = yield context.call_activity("count_attempt", key)
    if attempt < 2:
        raise ValueError(f"child attempt {attempt} failed")
    return f"ok after {attempt}"


@app.orchestration_trigger(context_name="context")
def caught_failure(context: df.DurableOrchestrationContext):
    try:
        yield context.call_activity("boom", "caught")
    except Exception as exc:
        return {"caught": str(exc)}
    return {"caught": None}


@app.orchestration_trigger(context_name="context")
def uncaught_failure(context: df.DurableOrchestrationContext):
    yield context.call_activity("boom", "uncaught")
    return "unreachable"


@app.orchestration_trigger(context_name="context")
def retry_exhausted(context: df.DurableOrchestrationContext):
    retry = df.RetryOptions(first_retry_interval_in_milliseconds=5, max_number_of_attempts=3)
    try:
        yield context.call_activity_with_retry("boom", retry, "always")
    except Exception as exc:
        return {"failed": str(exc)}
    return {"failed": None}


@app.orchestration_trigger(context_name="context")
def retry_recovers(context: df.DurableOrchestrationContext):
    retry = df.RetryOptions(first_retry_interval_in_milliseconds=5, max_number_of_attempts=4)
    key = context.get_input()
    return (yield context.call_activity_with_retry("fail_twice", retry, key))


@app.orchestration_trigger(context_name="context")
def custom_status(context: df.DurableOrchestrationContext):
    context.set_custom_status({"stage": 1})
    yield context.call_activity("double", 1)
    context.set_custom_status({"stage": 2})
    return "done"


@app.orchestration_trigger(context_name="context")
def deterministic_values(context: df.DurableOrchestrationContext):
    seen = []
    for i in range(3):
        seen.append({"uuid": str(context.new_uuid()), "now": context.current_utc_datetime.isoformat()})
        yield context.call_activity("double", i)
    seen.append({"uuid": str(context.new_uuid()), "now": context.current_utc_datetime.isoformat()})
    return seen


@app.orchestration_trigger(context_name="context")
def wait_forever(context: df.DurableOrchestrationContext):
    yield context.wait_for_external_event("Never")
    return "never"


@app.orchestration_trigger(context_name="context")
def counter_loop(context: df.DurableOrchestrationContext):
    total = 0
    for _ in range(context.get_input()):
        value = yield context.wait_for_external_event("Add")
        total += value
    return total


@app.activity_trigger(input_name="value")
def double(value: int) -> int:
    return value * 2


@app.activity_trigger(input_name="name")
async def async_greet(name: str) -> str:
    await asyncio.sleep(0.01)
    return f"hello {name}"


@app.activity_trigger(input_name="seconds")
def slow(seconds: float) -> str:
    import time

    time.sleep(seconds)
    return "slept"


@app.activity_trigger(input_name="label")
def boom(label: str) -> str:
    raise RuntimeError(f"boom: {label}")


_ATTEMPTS: dict[str, int] = {}


@app.activity_trigger(input_name="key")
def count_attempt(key: str) -> int:
    _ATTEMPTS[key] = _ATTEMPTS.get(key, 0) + 1
    return _ATTEMPTS[key]


@app.activity_trigger(input_name="key")
def fail_twice(key: str) -> str:
    _ATTEMPTS[key] = _ATTEMPTS.get(key, 0) + 1
    if _ATTEMPTS[key] <= 2:
        raise ConnectionError(f"transient {_ATTEMPTS[key]}")
    return json.dumps({"attempts": _ATTEMPTS[key]})


@app.route(route="hello")
def hello(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("hi")


_NONDETERMINISTIC_RUNS: dict[str, int] = {}


@app.orchestration_trigger(context_name="context")
def nondeterministic(context: df.DurableOrchestrationContext):
    # Deliberately wrong: module state changes what a replay schedules.
    runs = _NONDETERMINISTIC_RUNS[context.instance_id] = (
        _NONDETERMINISTIC_RUNS.get(context.instance_id, 0) + 1
    )
    activity = "double" if runs == 1 else "async_greet"
    first = yield context.call_activity(activity, 1)
    context.set_custom_status("first done")
    second = yield context.wait_for_external_event("Next")
    return [first, second]


@app.orchestration_trigger(context_name="context")
def uses_entity(context: df.DurableOrchestrationContext):
    counter = df.EntityId("Counter", context.get_input())
    context.signal_entity(counter, "add", 5)
    after_add = yield context.call_entity(counter, "add", 3)
    doubled = yield context.call_activity("double", after_add)
    current = yield context.call_entity(counter, "get")
    try:
        yield context.call_entity(counter, "fail", "on purpose")
        failure = None
    except Exception as exc:
        failure = str(exc)
    yield context.call_entity(counter, "reset")
    return {"after_add": after_add, "doubled": doubled, "current": current, "failure": failure}


@app.orchestration_trigger(context_name="context")
def uses_missing_entity(context: df.DurableOrchestrationContext):
    yield context.call_entity(df.EntityId("nope", "k"), "get")
    return "unreachable"


@app.entity_trigger(context_name="context", entity_name="Counter")
def counter_entity(context: df.DurableEntityContext):
    value = context.get_state(lambda: 0)
    operation = context.operation_name
    if operation == "add":
        value += context.get_input()
        context.set_state(value)
        context.set_result(value)
    elif operation == "get":
        context.set_result(value)
    elif operation == "fail":
        raise ValueError(f"counter refused: {context.get_input()}")
    elif operation == "reset":
        context.set_state(0)
    elif operation == "delete":
        context.destruct_on_exit()


@app.orchestration_trigger(context_name="context")
def calls_missing_activity(context: df.DurableOrchestrationContext):
    try:
        yield context.call_activity("no_such_activity", 1)
    except Exception as exc:
        return str(exc)
    return "unreachable"


@app.orchestration_trigger(context_name="context")
def sequence_with_log(context: df.DurableOrchestrationContext):
    spec = context.get_input()
    results = []
    for i in range(spec["n"]):
        results.append(
            (yield context.call_activity("logged_step", {"i": i, "log": spec["log"], "sleep": spec["sleep"]}))
        )
    return results


@app.activity_trigger(input_name="step")
def logged_step(step: dict) -> int:
    import time
    from pathlib import Path

    log = Path(step["log"])
    with log.open("a", encoding="utf-8") as fh:
        fh.write(f"start {step['i']}\n")
    time.sleep(step["sleep"])
    with log.open("a", encoding="utf-8") as fh:
        fh.write(f"end {step['i']}\n")
    return int(step["i"]) * 10


@app.orchestration_trigger(context_name="context")
def when_all_with_failure(context: df.DurableOrchestrationContext):
    try:
        yield context.task_all([context.call_activity("boom", "in-all"), context.call_activity("slow", 0.2)])
    except Exception as exc:
        after = yield context.call_activity("double", 21)
        return {"error": str(exc).split(" \n ")[0], "after": after}
    return "unreachable"


@app.orchestration_trigger(context_name="context")
def nested_groups(context: df.DurableOrchestrationContext):
    retry = df.RetryOptions(first_retry_interval_in_milliseconds=5, max_number_of_attempts=4)
    deadline = context.current_utc_datetime + timedelta(hours=1)
    pair = context.task_all([context.call_activity("double", 1), context.call_activity("double", 2)])
    flaky = context.call_activity_with_retry("fail_twice", retry, f"{context.instance_id}:nested")
    first = yield context.task_any([pair, flaky, context.create_timer(deadline)])
    rest = yield context.task_all([flaky, context.call_sub_orchestrator("child", 3)])
    return {"first_is_pair": first == pair, "pair": pair.result, "rest": rest}


@app.orchestration_trigger(context_name="context")
def signal_and_return(context: df.DurableOrchestrationContext):
    context.signal_entity(df.EntityId("Counter", context.get_input()), "add", 2)
    return "sent"


@app.orchestration_trigger(context_name="context")
def signal_and_continue(context: df.DurableOrchestrationContext):
    spec = context.get_input()
    context.signal_entity(df.EntityId("Counter", spec["key"]), "add", 1)
    if spec["left"] > 0:
        yield context.call_activity("double", spec["left"])
        context.continue_as_new({"key": spec["key"], "left": spec["left"] - 1})
        return None
    return "done"


@app.orchestration_trigger(context_name="context")
def program(context: df.DurableOrchestrationContext):
    """Interprets a small program (its input), so tests can generate orchestrations."""
    results = []
    for step in context.get_input():
        try:
            value = yield _program_task(context, step)
            results.append(_plain(value))
        except Exception as exc:
            results.append("error: " + str(exc).split(" \n ")[0])
    return results


def _plain(value):
    """A WhenAny yields the winning task; unwrap tasks (also inside WhenAll results) to their values."""
    if isinstance(value, df.models.Task.TaskBase):
        return _plain(value.result)
    if isinstance(value, Exception):
        return "error: " + str(value).split(" \n ")[0]
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _program_task(context: df.DurableOrchestrationContext, spec: list):
    kind = spec[0]
    if kind == "ok":
        return context.call_activity("echo", spec[1])
    if kind == "flaky":
        key = f"{context.instance_id}:{spec[1]}"
        return context.call_activity("flaky", {"key": key, "fails": spec[2]})
    if kind == "retry":
        key = f"{context.instance_id}:{spec[1]}"
        retry = df.RetryOptions(first_retry_interval_in_milliseconds=1000, max_number_of_attempts=spec[3])
        return context.call_activity_with_retry("flaky", retry, {"key": key, "fails": spec[2]})
    if kind == "timer":
        return context.create_timer(context.current_utc_datetime + timedelta(minutes=spec[1]))
    if kind == "all":
        return context.task_all([_program_task(context, s) for s in spec[1]])
    if kind == "any":
        far = context.create_timer(context.current_utc_datetime + timedelta(days=1))
        return context.task_any([_program_task(context, spec[1]), far])
    if kind == "sub":
        return context.call_sub_orchestrator("program", spec[1])
    raise ValueError(f"unknown step {kind}")


@app.activity_trigger(input_name="value")
def echo(value):
    return value


@app.activity_trigger(input_name="spec")
def flaky(spec: dict) -> str:
    _ATTEMPTS[spec["key"]] = _ATTEMPTS.get(spec["key"], 0) + 1
    if _ATTEMPTS[spec["key"]] <= spec["fails"]:
        raise RuntimeError("boom")
    return "recovered"


@app.orchestration_trigger(context_name="context")
def two_early_events(context: df.DurableOrchestrationContext):
    yield context.call_activity("slow", 0.3)
    first = yield context.wait_for_external_event("Add")
    second = yield context.wait_for_external_event("Add")
    return [first, second]
