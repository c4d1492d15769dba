"""The local Service Bus transport devhost serves Service Bus triggers and outputs from."""

from __future__ import annotations

from devhost.servicebus.config import EntityProperties, ServiceBusConfigError, load_config
from devhost.servicebus.store import (
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
