"""Entity settings for the local Service Bus, read from the official Service Bus emulator's Config.json shape.

Using the emulator's file format means a project that already describes its queues and topics for the
emulator can reuse that file; only the properties devhost honours are read, the rest are ignored.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

DURATION = re.compile(
    r"^P(?:(?P<d>\d+)D)?(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)
DEFAULT_MAX_DELIVERY_COUNT = 10
DEFAULT_LOCK_DURATION = timedelta(minutes=1)
DEFAULT_TIME_TO_LIVE = timedelta(days=14)


class ServiceBusConfigError(ValueError):
    pass


def parse_iso_duration(text: str) -> timedelta:
    match = DURATION.match(text)
    if not match or text in {"P", "PT"}:
        raise ValueError(f"{text!r} is not an ISO 8601 duration like PT1M or P14D")
    parts = {k: float(v) if v else 0.0 for k, v in match.groupdict().items()}
    return timedelta(days=parts["d"], hours=parts["h"], minutes=parts["m"], seconds=parts["s"])


class EntityProperties(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    max_delivery_count: int = Field(default=DEFAULT_MAX_DELIVERY_COUNT, alias="MaxDeliveryCount", ge=1)
    lock_duration: timedelta = Field(default=DEFAULT_LOCK_DURATION, alias="LockDuration")
    default_message_time_to_live: timedelta = Field(
        default=DEFAULT_TIME_TO_LIVE, alias="DefaultMessageTimeToLive"
    )
    dead_lettering_on_message_expiration: bool = Field(
        default=False, alias="DeadLetteringOnMessageExpiration"
    )

    @field_validator("lock_duration", "default_message_time_to_live", mode="before")
    @classmethod
    def _duration(cls, value: object) -> object:
        return parse_iso_duration(value) if isinstance(value, str) else value


class QueueConfig(BaseModel):
    model_config = ConfigDict(extra="ignore")
    Name: str
    Properties: EntityProperties = EntityProperties()


class SubscriptionConfig(QueueConfig):
    pass


class TopicConfig(BaseModel):
    model_config = ConfigDict(extra="ignore")
    Name: str
    Subscriptions: list[SubscriptionConfig] = []


class NamespaceConfig(BaseModel):
    model_config = ConfigDict(extra="ignore")
    Name: str = "local"
    Queues: list[QueueConfig] = []
    Topics: list[TopicConfig] = []


class UserConfig(BaseModel):
    model_config = ConfigDict(extra="ignore")
    Namespaces: list[NamespaceConfig] = []


class EmulatorConfig(BaseModel):
    model_config = ConfigDict(extra="ignore")
    UserConfig: UserConfig


def load_config(path: Path) -> EmulatorConfig:
    """Read the file; errors name the JSON path of the bad field."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ServiceBusConfigError(f"{path}: not valid JSON ({exc})") from exc
    try:
        return EmulatorConfig.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = "$." + ".".join(str(p) for p in first["loc"])
        raise ServiceBusConfigError(f"{path}: {where}: {first['msg']}") from exc
