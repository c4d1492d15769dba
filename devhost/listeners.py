"""The seam between the devhost core (durable engine, HTTP) and the event-trigger listeners.

The core discovers functions and owns invocation (it fills in durable-client and other bindings it
serves); listeners turn events (blobs, queue and Service Bus messages, timers) into invocations.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

# A Function object from `app.get_functions()` (azure.functions.decorators.core.Function).
FunctionObject = Any

# Run a user function. `args` holds the values the caller provides by parameter name (the trigger
# argument and any output-binding `Out` objects); the core adds durable-client bindings. Returns what
# the function returned.
Invoke = Callable[[FunctionObject, dict[str, Any]], Awaitable[Any]]


@dataclass(frozen=True)
class HostServices:
    app_dir: Path
    state_dir: Path
    settings: Mapping[str, str]
    host_json: Mapping[str, Any]
    invoke: Invoke
    log: logging.Logger


class TriggerListener(Protocol):
    """One running source of events for one or more functions."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...
