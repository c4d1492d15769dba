"""Fetch Batch resource files and upload Batch output files, with azure-storage-blob.

URLs that point into the configured storage account (Azurite locally) use the account's credentials, so
private containers work without SAS tokens, exactly like Batch's auto-storage account. Other container
URLs are used as given (a SAS in the query string, or public access). Plain `http(s)` URLs and local paths
are read directly.
"""

from __future__ import annotations

import contextlib
import shutil
import urllib.request
from pathlib import Path
from urllib.parse import unquote, urlparse

from azure.storage.blob import BlobServiceClient, ContainerClient


class BlobIO:
    def __init__(self, connection_string: str | None) -> None:
        self._service = (
            BlobServiceClient.from_connection_string(connection_string) if connection_string else None
        )
        self._base = self._service.url.rstrip("/") if self._service is not None else None

    @property
    def account_url(self) -> str | None:
        return self._base

    def container_url(self, name: str) -> str:
        if self._base is None:
            raise ValueError("no storage account is configured for autoStorageContainerName")
        return f"{self._base}/{name}"

    def _container(self, container_url: str) -> tuple[ContainerClient, str]:
        """The container client for a URL and the blob path left after the container name."""
        url = container_url.split("?", 1)[0].rstrip("/")
        if self._service is not None and "://" not in url:  # a container of the app's own account
            name, _, path = unquote(url.strip("/")).partition("/")
            return self._service.get_container_client(name), path
        if self._service is not None and self._base is not None and url.startswith(self._base + "/"):
            rest = unquote(url[len(self._base) + 1 :])
            name, _, path = rest.partition("/")
            return self._service.get_container_client(name), path
        parsed = urlparse(container_url)
        segments = unquote(parsed.path).strip("/").split("/")
        # Path-style (emulator) URLs carry the account as the first segment.
        skip = 1 if parsed.hostname in ("127.0.0.1", "localhost") and len(segments) > 1 else 0
        name = segments[skip]
        path = "/".join(segments[skip + 1 :])
        base = f"{parsed.scheme}://{parsed.netloc}/{'/'.join(segments[: skip + 1])}"
        client = ContainerClient.from_container_url(base + (f"?{parsed.query}" if parsed.query else ""))
        return client, path

    def _owns(self, url: str) -> bool:
        if self._base is None:
            return False
        return "://" not in url or url.split("?", 1)[0].startswith(self._base + "/")

    def download_url(self, url: str, dest: Path) -> None:
        """A single file from a blob URL, an http(s) URL, a `file://` URL or a local path."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        parsed = urlparse(url)
        if parsed.scheme in ("", "file"):
            shutil.copyfile(unquote(parsed.path) if parsed.scheme else url, dest)
            return
        if self._owns(url):
            container, blob = self._container(url)
            with open(dest, "wb") as fh:
                container.download_blob(blob).readinto(fh)
            return
        with urllib.request.urlopen(url, timeout=60) as response, open(dest, "wb") as fh:
            shutil.copyfileobj(response, fh)

    def download_container(self, container_url: str, prefix: str | None, dest_dir: Path) -> list[Path]:
        """Every blob of a container (optionally under a prefix), keeping blob names as relative paths."""
        container, _ = self._container(container_url)
        written: list[Path] = []
        for blob in container.list_blobs(name_starts_with=prefix or None):
            target = dest_dir / blob.name
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "wb") as fh:
                container.download_blob(blob.name).readinto(fh)
            written.append(target)
        return written

    def upload_file(self, container_url: str, blob_name: str, source: Path) -> str:
        """Upload one file, creating the container if this account owns it; returns the blob URL."""
        container, base = self._container(container_url)
        name = "/".join(p for p in (base.strip("/"), blob_name.lstrip("/")) if p)
        if self._owns(container_url) and not container.exists():
            from azure.core.exceptions import ResourceExistsError

            with contextlib.suppress(ResourceExistsError):
                container.create_container()
        with open(source, "rb") as fh:
            container.upload_blob(name, fh, overwrite=True)
        return f"{container.url.split('?', 1)[0]}/{name}"
