"""Event Grid subscriptions for devhost, read from `eventgrid.config.json` at the app root.

On Azure a storage account's system topic feeds event subscriptions, each naming its destination (a
function) and a filter. The file says the same for the local host, in the subscription's own property
names, so it reads like the deployment it stands for:

    {"subscriptions": [{"name": "blob-events", "function": "start_runs_for_blob_event",
                        "source": "AzureWebJobsStorage",
                        "filter": {"includedEventTypes": ["Microsoft.Storage.BlobCreated"],
                                   "subjectBeginsWith": "/blobServices/default/containers/",
                                   "subjectEndsWith": ".csv"},
                        "retryPolicy": {"maxDeliveryAttempts": 30}}]}

`source` names the connection setting of the storage account (the system topic's source).
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

BLOB_CREATED = "Microsoft.Storage.BlobCreated"
CONTAINERS_SUBJECT = "/blobServices/default/containers/"


class EventGridConfigError(ValueError):
    pass


def blob_subject(container: str, name: str) -> str:
    """A blob event's subject, as the storage account's system topic writes it."""
    return f"{CONTAINERS_SUBJECT}{container}/blobs/{name}"


class SubscriptionFilter(BaseModel):
    """Event Grid's basic filters; subject matching ignores case unless `isSubjectCaseSensitive`."""

    model_config = ConfigDict(extra="forbid")

    includedEventTypes: list[str] | None = None
    subjectBeginsWith: str = ""
    subjectEndsWith: str = ""
    isSubjectCaseSensitive: bool = False

    def _fold(self, text: str) -> str:
        return text if self.isSubjectCaseSensitive else text.lower()

    def accepts_type(self, event_type: str) -> bool:
        types = self.includedEventTypes
        return types is None or any(t.lower() == event_type.lower() for t in types)

    def matches(self, event_type: str, subject: str) -> bool:
        folded = self._fold(subject)
        return (
            self.accepts_type(event_type)
            and folded.startswith(self._fold(self.subjectBeginsWith))
            and folded.endswith(self._fold(self.subjectEndsWith))
        )

    def may_match_container(self, container: str) -> bool:
        """Whether any blob of `container` can pass `subjectBeginsWith` (so others need no listing)."""
        head = self._fold(f"{CONTAINERS_SUBJECT}{container}/")
        begins = self._fold(self.subjectBeginsWith)
        return head.startswith(begins) or begins.startswith(head)


class RetryPolicy(BaseModel):
    model_config = ConfigDict(extra="ignore")

    maxDeliveryAttempts: int = Field(default=30, ge=1, le=30)


class EventGridSubscription(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    function: str = Field(min_length=1)
    source: str = "AzureWebJobsStorage"
    filter: SubscriptionFilter = SubscriptionFilter()
    retryPolicy: RetryPolicy = RetryPolicy()


class EventGridConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subscriptions: list[EventGridSubscription] = []

    def for_function(self, function: str) -> list[EventGridSubscription]:
        return [s for s in self.subscriptions if s.function == function]


def load_eventgrid_config(path: Path) -> EventGridConfig:
    """Read the file; errors name the JSON path of the bad field."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise EventGridConfigError(f"{path}: cannot read ({exc})") from exc
    try:
        return EventGridConfig.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = "$." + ".".join(str(p) for p in first["loc"])
        raise EventGridConfigError(f"{path}: {where}: {first['msg']}") from exc
