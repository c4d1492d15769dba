"""Trigger settings: host.json `extensions.*` as the real host reads them, plus devhost's poll tuning.

host.json values are validated with pydantic so a bad value names its JSON path; devhost-only tuning
(poll intervals, which the real host does not expose) comes from `DEVHOST_*` settings so tests can shorten it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

TIMESPAN = re.compile(r"^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2}(?:\.\d+)?)$")


class TriggerConfigError(ValueError):
    pass


def parse_timespan(value: object) -> object:
    """host.json durations are .NET TimeSpans (`[d.]hh:mm:ss[.fff]`)."""
    if isinstance(value, str):
        match = TIMESPAN.match(value.strip())
        if not match:
            raise ValueError(f"{value!r} is not a TimeSpan like 00:00:30")
        days, hours, minutes, seconds = match.groups()
        return timedelta(days=int(days or 0), hours=int(hours), minutes=int(minutes), seconds=float(seconds))
    return value


class QueuesOptions(BaseModel):
    """`extensions.queues` (also governs blob-trigger retries, as in the real host)."""

    model_config = ConfigDict(extra="ignore")
    maxPollingInterval: timedelta = timedelta(seconds=2)
    visibilityTimeout: timedelta = timedelta(0)
    batchSize: int = Field(default=16, ge=1, le=32)
    maxDequeueCount: int = Field(default=5, ge=1)
    newBatchThreshold: int | None = Field(default=None, ge=0)
    messageEncoding: Literal["base64", "none"] = "base64"

    _ts = field_validator("maxPollingInterval", "visibilityTimeout", mode="before")(parse_timespan)


class ServiceBusOptions(BaseModel):
    """`extensions.serviceBus`."""

    model_config = ConfigDict(extra="ignore")
    maxConcurrentCalls: int = Field(default=16, ge=1)
    autoCompleteMessages: bool = True
    maxAutoLockRenewalDuration: timedelta = timedelta(minutes=5)
    maxMessageBatchSize: int = Field(default=1000, ge=1)

    _ts = field_validator("maxAutoLockRenewalDuration", mode="before")(parse_timespan)


class BlobsOptions(BaseModel):
    """`extensions.blobs`."""

    model_config = ConfigDict(extra="ignore")
    maxDegreeOfParallelism: int = Field(default=8, ge=1)


class Extensions(BaseModel):
    model_config = ConfigDict(extra="ignore")
    queues: QueuesOptions = QueuesOptions()
    serviceBus: ServiceBusOptions = ServiceBusOptions()
    blobs: BlobsOptions = BlobsOptions()


def read_extensions(host_json: Mapping[str, Any]) -> Extensions:
    try:
        return Extensions.model_validate(dict(host_json.get("extensions") or {}))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = "$.extensions." + ".".join(str(p) for p in first["loc"])
        raise TriggerConfigError(f"host.json {where}: {first['msg']}") from exc


@dataclass(frozen=True)
class ListenerTuning:
    """How often listeners look for work. Not host.json settings: devhost-only, shortened in tests."""

    blob_poll_interval: float = 0.1
    blob_page_size: int = 250
    queue_min_poll_interval: float = 0.05
    servicebus_poll_interval: float = 0.1
    blob_retry_delay: float = 0.0

    @classmethod
    def from_settings(cls, settings: Mapping[str, str]) -> ListenerTuning:
        def ms(name: str, default: float) -> float:
            raw = settings.get(name) or os.environ.get(name)
            if not raw:
                return default
            try:
                return float(raw) / 1000.0
            except ValueError as exc:
                raise TriggerConfigError(f"setting {name}: {raw!r} is not a number of milliseconds") from exc

        base = cls()
        return cls(
            blob_poll_interval=ms("DEVHOST_BLOB_POLL_MS", base.blob_poll_interval),
            queue_min_poll_interval=ms("DEVHOST_QUEUE_MIN_POLL_MS", base.queue_min_poll_interval),
            servicebus_poll_interval=ms("DEVHOST_SERVICEBUS_POLL_MS", base.servicebus_poll_interval),
        )
