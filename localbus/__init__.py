"""A local Service Bus transport in SQLite: a library of its own, neither devhost nor the app.

devhost serves Service Bus triggers and output bindings from it; the app, in local mode, publishes its run
events to it (where on Azure it uses azure-servicebus). Sharing a library keeps both sides ignorant of each
other: the app imports no devhost code and devhost none of the app.
"""

from __future__ import annotations

from localbus.config import EntityProperties, ServiceBusConfigError, load_config
from localbus.store import (
    MAX_DELIVERY_REASON,
    STATE_DIR_ENV,
    EntityNotFound,
    LocalServiceBus,
    LockLost,
    StoredMessage,
    state_dir_from_environment,
    subscription_path,
)

__all__ = [
    "MAX_DELIVERY_REASON",
    "STATE_DIR_ENV",
    "EntityNotFound",
    "EntityProperties",
    "LocalServiceBus",
    "LockLost",
    "ServiceBusConfigError",
    "StoredMessage",
    "load_config",
    "state_dir_from_environment",
    "subscription_path",
]
