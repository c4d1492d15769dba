"""Run one user function the way the Python worker does, with the bindings the host fills in.

The caller gives the values it owns by parameter name (the trigger argument, output `Out` objects); this
module adds the durable client binding (the JSON text the SDK's `durable_client_input` wrapper turns into
a `DurableOrchestrationClient`) and `context`. Async functions run on the host's event loop; sync ones in
a thread pool, as in the worker, so a slow sync function never stalls HTTP or the durable engine.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import azure.functions as func

from devhost.listeners import FunctionObject

T = TypeVar("T")

DURABLE_CLIENT_BINDING = "durableClient"


class UnservedBinding(RuntimeError):
    """A function parameter whose binding devhost does not fill (the message names function and parameter)."""


class OutValue(func.Out[T], Generic[T]):
    """A concrete `func.Out` for output bindings and named HTTP outputs."""

    def __init__(self) -> None:
        self._value: T | None = None
        self.is_set = False

    def set(self, val: T) -> None:
        self._value = val
        self.is_set = True

    def get(self) -> T:
        return self._value  # type: ignore[return-value]


@dataclass(frozen=True)
class _TraceContext:
    trace_parent: str = ""
    trace_state: str = ""
    attributes: dict[str, str] | None = None

    @property
    def Traceparent(self) -> str:
        return self.trace_parent

    @property
    def Tracestate(self) -> str:
        return self.trace_state

    @property
    def Attributes(self) -> dict[str, str]:
        return self.attributes or {}


class InvocationContext(func.Context):
    def __init__(self, function_name: str, function_directory: str) -> None:
        self._invocation_id = str(uuid.uuid4())
        self._function_name = function_name
        self._function_directory = function_directory
        self._tls = threading.local()
        self._tls.invocation_id = self._invocation_id

    @property
    def invocation_id(self) -> str:
        return self._invocation_id

    @property
    def thread_local_storage(self) -> Any:
        return self._tls

    @property
    def function_name(self) -> str:
        return self._function_name

    @property
    def function_directory(self) -> str:
        return self._function_directory

    @property
    def trace_context(self) -> Any:
        return _TraceContext()

    @property
    def retry_context(self) -> Any:
        return None


# Returns the durable client binding JSON for a binding's (taskHub, connectionName).
ClientBindingSource = Callable[[str | None, str | None], str]


def binding_dicts(function: FunctionObject) -> list[dict[str, Any]]:
    result = []
    for binding in function.get_bindings():
        raw = binding.get_dict_repr()
        result.append({k: getattr(v, "value", v) for k, v in raw.items()})
    return result


def reset_durable_client_session() -> None:
    """Drop the SDK's module-level aiohttp session when it belongs to another event loop.

    `azure.durable_functions` keeps one `ClientSession` per process; one created under an earlier
    `asyncio.run` (tests, the `orchestrate` command) cannot be used from a new loop.
    """
    from azure.durable_functions.models.utils import http_utils

    session = http_utils._client_session
    if session is None:
        return
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        return
    session_loop = getattr(session, "_loop", None)
    if session.closed or (session_loop is not None and session_loop is not running):
        http_utils._client_session = None
        http_utils._session_lock = asyncio.Lock()


async def close_durable_client_session() -> None:
    """Close the SDK's shared aiohttp session on shutdown (it is opened by the first client call)."""
    from azure.durable_functions.models.utils import http_utils

    session = http_utils._client_session
    http_utils._client_session = None
    if session is not None and not session.closed:
        await session.close()


class FunctionInvoker:
    """Calls user functions; `invoke` matches `devhost.listeners.Invoke`."""

    def __init__(
        self,
        *,
        app_dir: Path,
        client_binding: ClientBindingSource | None = None,
        max_sync_workers: int | None = None,
        log: logging.Logger | None = None,
    ) -> None:
        self.app_dir = app_dir
        self.client_binding = client_binding
        self.log = log or logging.getLogger("devhost.invoke")
        self._executor = ThreadPoolExecutor(max_workers=max_sync_workers, thread_name_prefix="devhost-fn")

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    def prepare_arguments(self, function: FunctionObject, args: dict[str, Any]) -> dict[str, Any]:
        name = function.get_function_name()
        user_fn = function.get_user_function()
        kwargs = dict(args)
        binding_types: dict[str, str] = {}
        for binding in binding_dicts(function):
            binding_types[binding.get("name", "")] = binding.get("type", "")
            if binding.get("type") == DURABLE_CLIENT_BINDING and binding["name"] not in kwargs:
                if self.client_binding is None:
                    raise UnservedBinding(
                        f"function {name!r}: durable client binding {binding['name']!r} needs the "
                        "HTTP server (the Durable client API) to be running"
                    )
                kwargs[binding["name"]] = self.client_binding(
                    binding.get("taskHub"), binding.get("connectionName")
                )
        signature = inspect.signature(user_fn)
        accepts_any = any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values())
        for pname, param in signature.parameters.items():
            if pname in kwargs or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                continue
            if pname == "context" or _is_context_annotation(param.annotation):
                kwargs[pname] = InvocationContext(name, str(self.app_dir))
                continue
            if param.default is param.empty:
                kind = binding_types.get(pname, "no binding")
                raise UnservedBinding(
                    f"function {name!r}: parameter {pname!r} (binding type {kind!r}) has no value; "
                    "devhost does not serve that binding"
                )
        if not accepts_any:
            kwargs = {k: v for k, v in kwargs.items() if k in signature.parameters}
        return kwargs

    async def invoke(self, function: FunctionObject, args: dict[str, Any]) -> Any:
        name = function.get_function_name()
        try:
            kwargs = self.prepare_arguments(function, args)
        except UnservedBinding as exc:
            self.log.error("Function %s not invoked: %s", name, exc)
            raise
        user_fn = function.get_user_function()
        started = time.perf_counter()
        invocation = str(uuid.uuid4())
        try:
            if inspect.iscoroutinefunction(user_fn):
                reset_durable_client_session()
                result = await user_fn(**kwargs)
            else:
                loop = asyncio.get_running_loop()
                call = functools.partial(contextvars.copy_context().run, functools.partial(user_fn, **kwargs))
                result = await loop.run_in_executor(self._executor, call)
                if inspect.isawaitable(result):
                    reset_durable_client_session()
                    result = await result
        except Exception as exc:
            elapsed = (time.perf_counter() - started) * 1000
            self.log.error(
                "Executed 'Functions.%s' (Failed, Id=%s, Duration=%.0fms): %s: %s",
                name,
                invocation,
                elapsed,
                type(exc).__name__,
                exc,
                exc_info=exc,
            )
            raise
        elapsed = (time.perf_counter() - started) * 1000
        self.log.debug(
            "Executed 'Functions.%s' (Succeeded, Id=%s, Duration=%.0fms)", name, invocation, elapsed
        )
        return result


def _is_context_annotation(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, func.Context)
