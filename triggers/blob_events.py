"""Blob events as Event Grid delivers them from the storage account's system topic.

Only `Microsoft.Storage.BlobCreated` starts work. Other event types reaching the function (a subscription
that includes BlobDeleted, say) are ignored; a metadata-only change raises no BlobCreated event at all. The
subject names the container and blob (`/blobServices/default/containers/<c>/blobs/<name>`); `data.url`
and `data.eTag` name the upload, so they are the run's identity as they were for the polling trigger.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from triggers.blob_rules import BLOB_CREATED, ArrivedBlob

SUBJECT = re.compile(r"^/blobServices/default/containers/(?P<container>[^/]+)/blobs/(?P<name>.+)$")


class InvalidBlobEvent(ValueError):
    """A BlobCreated event without the fields every one has: it can never start a run."""


class BlobCreatedData(BaseModel):
    """`data` of a BlobCreated event; only the fields a run needs are required."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    url: str = Field(min_length=1)
    e_tag: str = Field(alias="eTag", min_length=1)
    content_length: int = Field(default=0, alias="contentLength", ge=0)
    content_type: str | None = Field(default=None, alias="contentType")
    blob_type: str | None = Field(default=None, alias="blobType")
    api: str | None = None


def blob_subject(container: str, name: str) -> str:
    return f"/blobServices/default/containers/{container}/blobs/{name}"


def parse_subject(subject: str) -> tuple[str, str]:
    """(container, blob name) of a blob event's subject."""
    match = SUBJECT.match(subject or "")
    if match is None:
        raise InvalidBlobEvent(
            f"subject {subject!r} is not /blobServices/default/containers/<c>/blobs/<name>"
        )
    return match["container"], match["name"]


def arrived_blob(event_type: str, subject: str, data: Mapping[str, Any] | None) -> ArrivedBlob | None:
    """The blob a BlobCreated event announces; None for any other event type."""
    if event_type != BLOB_CREATED:
        return None
    container, name = parse_subject(subject)
    try:
        fields = BlobCreatedData.model_validate(dict(data or {}))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = "$.data." + ".".join(str(p) for p in first["loc"])
        raise InvalidBlobEvent(f"{where}: {first['msg']}") from exc
    return ArrivedBlob(
        container=container,
        name=name,
        size=fields.content_length,
        url=fields.url,
        etag=fields.e_tag.strip('"'),
    )
