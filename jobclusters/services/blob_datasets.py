"""Blob reads for GetMetadata and Lookup: a file's properties, a folder's direct children, a blob's text.

`BlobDatasetReader` is the Protocol the data activities use; `BlobServiceDatasets` implements it over an
azure-storage-blob service client (Azurite on the embedded default, the linked account on Azure; the
factory chooses).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from azure.storage.blob import BlobServiceClient

#: the most bytes Lookup reads (ADF's limit on a Lookup's output is 4 MB)
MAX_READ_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class BlobItem:
    name: str
    kind: str  # "File" | "Folder"
    size: int | None = None
    last_modified: datetime | None = None


class BlobDatasetReader(Protocol):
    def file(self, container: str, name: str) -> BlobItem | None: ...

    def children(self, container: str, prefix: str) -> list[BlobItem]:
        """Direct children of a folder (files and sub-folders), names relative to it."""

    def files_under(self, container: str, prefix: str) -> list[str]: ...

    def read_text(self, container: str, name: str) -> str: ...


class BlobTooLarge(ValueError):
    pass


class BlobServiceDatasets:
    def __init__(self, service: BlobServiceClient) -> None:
        self.service = service

    def file(self, container: str, name: str) -> BlobItem | None:
        from azure.core.exceptions import ResourceNotFoundError

        if not name:
            return None
        try:
            props = self.service.get_blob_client(container, name).get_blob_properties()
        except ResourceNotFoundError:
            return None
        return BlobItem(name.rsplit("/", 1)[-1], "File", props.size, props.last_modified)

    def children(self, container: str, prefix: str) -> list[BlobItem]:
        from azure.core.exceptions import ResourceNotFoundError
        from azure.storage.blob import BlobPrefix

        start = f"{prefix.strip('/')}/" if prefix.strip("/") else ""
        found: list[BlobItem] = []
        try:
            for item in self.service.get_container_client(container).walk_blobs(name_starts_with=start):
                relative = item.name[len(start) :]
                if isinstance(item, BlobPrefix):
                    found.append(BlobItem(relative.rstrip("/"), "Folder"))
                elif relative:
                    found.append(BlobItem(relative, "File", item.size, item.last_modified))
        except ResourceNotFoundError:
            return []
        return sorted(found, key=lambda c: c.name)

    def files_under(self, container: str, prefix: str) -> list[str]:
        from azure.core.exceptions import ResourceNotFoundError

        start = f"{prefix.strip('/')}/" if prefix.strip("/") else ""
        try:
            names = self.service.get_container_client(container).list_blob_names(name_starts_with=start)
            return sorted(n for n in names if not n.endswith("/"))
        except ResourceNotFoundError:
            return []

    def read_text(self, container: str, name: str) -> str:
        blob = self.service.get_blob_client(container, name)
        size = blob.get_blob_properties().size
        if size > MAX_READ_BYTES:
            raise BlobTooLarge(f"{container}/{name} has {size} bytes; Lookup reads at most {MAX_READ_BYTES}")
        return blob.download_blob().readall().decode("utf-8-sig")
