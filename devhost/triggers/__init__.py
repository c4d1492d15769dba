"""Event-trigger listeners (blob, Event Grid, queue, Service Bus, timer) for devhost."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from devhost.listeners import FunctionObject, HostServices, TriggerListener
from devhost.triggers.blob import BlobTriggerListener
from devhost.triggers.common import ListenerContext
from devhost.triggers.eventgrid import EventGridTriggerListener
from devhost.triggers.eventgrid_config import EventGridConfig, load_eventgrid_config
from devhost.triggers.options import ListenerTuning, read_extensions
from devhost.triggers.queue import QueueTriggerListener
from devhost.triggers.servicebus import ServiceBusTriggerListener
from devhost.triggers.state import TriggerState
from devhost.triggers.timer import TimerTriggerListener
from localbus import STATE_DIR_ENV, LocalServiceBus, load_config

SERVED_BY_CORE = frozenset({"orchestrationTrigger", "activityTrigger", "entityTrigger", "httpTrigger"})
SERVICEBUS_CONFIG_FILE = "servicebus.config.json"
SERVICEBUS_CONFIG_SETTING = "DEVHOST_SERVICEBUS_CONFIG"
EVENTGRID_CONFIG_FILE = "eventgrid.config.json"
EVENTGRID_CONFIG_SETTING = "DEVHOST_EVENTGRID_CONFIG"


def _config_path(services: HostServices, setting: str, file_name: str) -> Path | None:
    configured = services.settings.get(setting)
    if configured:
        path = Path(configured)
        return path if path.is_absolute() else services.app_dir / path
    default = services.app_dir / file_name
    return default if default.is_file() else None


def servicebus_config_path(services: HostServices) -> Path | None:
    """The emulator-style entity file: the setting if given, else `<app>/servicebus.config.json`."""
    return _config_path(services, SERVICEBUS_CONFIG_SETTING, SERVICEBUS_CONFIG_FILE)


def eventgrid_config_path(services: HostServices) -> Path | None:
    """The Event Grid subscriptions: the setting if given, else `<app>/eventgrid.config.json`."""
    return _config_path(services, EVENTGRID_CONFIG_SETTING, EVENTGRID_CONFIG_FILE)


def build_listeners(
    services: HostServices,
    functions: Sequence[FunctionObject],
    *,
    tuning: ListenerTuning | None = None,
) -> list[TriggerListener]:
    """Listeners for every function whose trigger the core does not serve itself.

    A function whose trigger is misconfigured (missing setting, bad schedule or path) is logged and left out;
    the host and the other functions keep running, as in the Functions host. Unknown trigger kinds are
    reported, never silently ignored. Exports `LOCALBUS_STATE_DIR` so app code in local mode can reach the
    same local Service Bus (`LocalServiceBus.from_environment()`).
    """
    os.environ[STATE_DIR_ENV] = str(services.state_dir)
    extensions = read_extensions(services.host_json)
    ctx = ListenerContext(
        services=services,
        extensions=extensions,
        tuning=tuning or ListenerTuning.from_settings(services.settings),
        state=TriggerState(services.state_dir),
    )
    bus: LocalServiceBus | None = None
    eventgrid: EventGridConfig | None = None
    listeners: list[TriggerListener] = []
    for fn in functions:
        kind = fn.get_trigger().get_binding_name()
        if kind in SERVED_BY_CORE:
            continue
        try:
            if kind == "blobTrigger":
                listeners.append(BlobTriggerListener(ctx, fn))
            elif kind == "queueTrigger":
                listeners.append(QueueTriggerListener(ctx, fn))
            elif kind == "serviceBusTrigger":
                if bus is None:
                    bus = LocalServiceBus(services.state_dir)
                    config = servicebus_config_path(services)
                    if config is not None:
                        bus.apply_config(load_config(config))
                listeners.append(ServiceBusTriggerListener(ctx, fn, bus))
            elif kind == "eventGridTrigger":
                if eventgrid is None:
                    config = eventgrid_config_path(services)
                    eventgrid = load_eventgrid_config(config) if config else EventGridConfig()
                subscriptions = eventgrid.for_function(fn.get_function_name())
                if not subscriptions:
                    services.log.warning(
                        "function %s: no subscription in %s names it; it receives no events",
                        fn.get_function_name(), EVENTGRID_CONFIG_FILE,
                    )
                listeners.extend(EventGridTriggerListener(ctx, fn, s) for s in subscriptions)
            elif kind == "timerTrigger":
                listeners.append(TimerTriggerListener(ctx, fn))
            else:
                services.log.warning("function %s: %s is not served by devhost", fn.get_function_name(), kind)
        except ValueError as exc:
            services.log.error("function %s is not started: %s", fn.get_function_name(), exc)
    return listeners
