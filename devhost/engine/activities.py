"""Run activity functions the way the Python worker does: the trigger converter decodes the input (df_loads)
and encodes the result (df_dumps); sync functions run on a bounded set of threads, async ones on the loop."""

from __future__ import annotations

import inspect
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from azure.functions import meta
from azure.functions.durable_functions import ActivityTriggerConverter

from devhost.engine.threads import DaemonPool
from devhost.invoke import (
    DURABLE_CLIENT_BINDING,
    ClientBindingSource,
    binding_dicts,
    reset_durable_client_session,
)

MAX_DETAILS = 4000


@dataclass(frozen=True)
class ActivityWork:
    instance_id: str
    execution_id: str
    task_id: int
    name: str
    input: str | None


@dataclass(frozen=True)
class ActivityOutcome:
    ok: bool
    result: str | None = None
    reason: str = ""
    details: str = ""


def _call_args(
    fn: Any, input_json: str | None, client_binding: ClientBindingSource | None
) -> tuple[Callable[..., Any], dict[str, Any]]:
    user = fn.get_user_function()
    trigger = fn.get_trigger()
    value = ActivityTriggerConverter.decode(meta.Datum(type="json", value=input_json), trigger_metadata=None)
    kwargs: dict[str, Any] = {str(trigger.name): value}
    for binding in binding_dicts(fn):
        if binding.get("type") == DURABLE_CLIENT_BINDING:
            kwargs[binding["name"]] = _client(client_binding, binding)
    return user, kwargs


def _client(source: ClientBindingSource | None, binding: dict[str, Any]) -> str | None:
    """The durable client binding data, as the host gives any function; None where no Durable HTTP API
    is served (the `orchestrate` command, an engine in tests)."""
    if source is None:
        return None
    try:
        return source(binding.get("taskHub"), binding.get("connectionName"))
    except Exception:  # the HTTP side is not up yet (instances resumed at start)
        return None


def _encode(result: Any) -> str | None:
    return str(ActivityTriggerConverter.encode(result, expected_type=None).value)


def _user_frames(exc: BaseException) -> str:
    """The traceback without devhost's and the executor's own frames (they say nothing about the failure)."""
    frames = [
        f
        for f in traceback.extract_tb(exc.__traceback__)
        if "/devhost/engine/" not in f.filename and "/concurrent/futures/" not in f.filename
    ]
    lines = traceback.format_list(frames) + traceback.format_exception_only(type(exc), exc)
    return "".join(lines)[-MAX_DETAILS:]


def _failure(name: str, exc: BaseException) -> ActivityOutcome:
    message = f"{type(exc).__name__}: {exc}"
    details = _user_frames(exc)
    return ActivityOutcome(ok=False, reason=f"Activity function '{name}' failed: {message}", details=details)


class ActivityRunner:
    def __init__(
        self,
        functions: dict[str, Any],
        max_concurrent: int,
        client_binding: ClientBindingSource | None = None,
    ) -> None:
        self.functions = functions
        self.client_binding = client_binding
        self.max_concurrent = max(1, max_concurrent)
        self.pool = DaemonPool(self.max_concurrent, "devhost-activity")

    def close(self) -> None:
        self.pool.close()

    async def run(self, work: ActivityWork) -> ActivityOutcome:
        fn = self.functions.get(work.name)
        if fn is None:
            return ActivityOutcome(
                ok=False,
                reason=f"The function '{work.name}' doesn't exist, is disabled, or is not an activity "
                "function.",
                details="",
            )
        try:
            user, kwargs = _call_args(fn, work.input, self.client_binding)
            if inspect.iscoroutinefunction(user):
                reset_durable_client_session()
                result = await user(**kwargs)
            else:
                result = await self.pool.run(lambda: user(**kwargs))
            return ActivityOutcome(ok=True, result=_encode(result))
        except Exception as exc:
            return _failure(work.name, exc)
