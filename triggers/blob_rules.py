"""Which registered jobs a newly arrived blob starts: storage-event rules (ADF `blobPathBeginsWith` /
`blobPathEndsWith` / `ignoreEmptyBlobs`, plus a glob) and Databricks file-arrival locations.

Paths are compared inside one container; `*` in a glob also matches `/` (fnmatch).
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Any

from jobclusters.arrivals.requests import blob_run_parameters
from jobclusters.spec.blob_locations import file_arrival_location, split_adf_path
from jobclusters.spec.model import FileArrivalTrigger, StorageEventTrigger, Trigger

BLOB_CREATED = "Microsoft.Storage.BlobCreated"


@dataclass(frozen=True)
class ArrivedBlob:
    container: str
    name: str
    size: int
    url: str
    etag: str

    @classmethod
    def from_path(cls, path: str, *, size: int, url: str, etag: str) -> ArrivedBlob:
        """`path` is `container/name`, as the blob trigger reports it."""
        container, _, name = path.lstrip("/").partition("/")
        return cls(container=container, name=name, size=size, url=url, etag=etag.strip('"'))

    @property
    def path(self) -> str:
        return f"{self.container}/{self.name}"

    def run_parameters(self) -> dict[str, Any]:
        return blob_run_parameters(self.container, self.name, self.url)


def storage_event_matches(rule: StorageEventTrigger, blob: ArrivedBlob) -> bool:
    if BLOB_CREATED not in rule.events:
        return False
    if rule.ignore_empty_blobs and blob.size == 0:
        return False
    if rule.container is not None and rule.container != blob.container:
        return False
    if rule.prefix:
        container, prefix = split_adf_path(rule.prefix, rule.container)
        if container not in (None, blob.container) or not blob.name.startswith(prefix):
            return False
    if rule.suffix and not blob.name.endswith(rule.suffix):
        return False
    return not (rule.glob and not fnmatch.fnmatchcase(blob.name, rule.glob.lstrip("/")))


def file_arrival_matches(rule: FileArrivalTrigger, blob: ArrivedBlob) -> bool:
    if rule.pause_status == "PAUSED" or blob.size == 0:
        return False
    container, prefix = file_arrival_location(rule.url)
    return container in (None, blob.container) and blob.name.startswith(prefix)


def rule_matches(rule: Trigger, blob: ArrivedBlob) -> bool:
    if isinstance(rule, StorageEventTrigger):
        return storage_event_matches(rule, blob)
    return file_arrival_matches(rule, blob)


def matching_rule(rules: list[Trigger], blob: ArrivedBlob) -> int | None:
    """Index of the first rule the blob satisfies (reported in the run's trigger detail), else None."""
    return next((i for i, rule in enumerate(rules) if rule_matches(rule, blob)), None)
