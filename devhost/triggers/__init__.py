"""Event-trigger listeners (blob, queue, Service Bus, timer) for devhost."""

from __future__ import annotations

from collections.abc import Sequence

from devhost.listeners import FunctionObject, HostServices, TriggerListener

SERVED_BY_CORE = frozenset({"orchestrationTrigger", "activityTrigger", "entityTrigger", "httpTrigger"})


def build_listeners(services: HostServices, functions: Sequence[FunctionObject]) -> list[TriggerListener]:
    """Listeners for every function whose trigger the core does not serve itself.

    Trigger kinds without a listener yet are reported, never silently ignored.
    """
    for fn in functions:
        kind = fn.get_trigger().get_binding_name()
        if kind not in SERVED_BY_CORE:
            services.log.warning("function %s: %s is not yet served by devhost", fn.get_function_name(), kind)
    return []
