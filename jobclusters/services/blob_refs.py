"""Large values as blob references: a reference is the blob's URL (no SAS: readers use the account's
credentials), so tracking rows and run outputs can link to it; `container/path` is accepted too."""

from __future__ import annotations

import contextlib
import json
from typing import Any, Protocol
from urllib.parse import unquote

from azure.core.exceptions import ResourceExistsError

from jobclusters.services.storage import StorageAccount, storage_account

RUNS_CONTAINER = "jobclusters-runs"


class BlobRefStore(Protocol):
    @property
    def account_url(self) -> str: ...

    def put_text(self, path: str, text: str, container: str = RUNS_CONTAINER) -> str: ...

    def put_json(self, path: str, value: Any) -> str: ...

    def get_text(self, ref: str) -> str: ...

    def get_json(self, ref: str) -> Any: ...

    def list_names(self, container: str, prefix: str | None, limit: int) -> list[str]: ...


class BlobRefs:
    def __init__(self, account: StorageAccount | str) -> None:
        self._service = storage_account(account).blob_service()
        self._ready: set[str] = set()

    @property
    def account_url(self) -> str:
        return str(self._service.url).rstrip("/")

    def _container(self, name: str) -> Any:
        client = self._service.get_container_client(name)
        if name not in self._ready:
            with contextlib.suppress(ResourceExistsError):
                client.create_container()
            self._ready.add(name)
        return client

    def put_text(self, path: str, text: str, container: str = RUNS_CONTAINER) -> str:
        self._container(container).upload_blob(path, text.encode(), overwrite=True)
        return f"{self.account_url}/{container}/{path}"

    def put_json(self, path: str, value: Any) -> str:
        return self.put_text(path, json.dumps(value))

    def get_text(self, ref: str) -> str:
        plain = ref.split("?", 1)[0]
        if plain.startswith(self.account_url + "/"):
            plain = unquote(plain[len(self.account_url) + 1 :])
        container, _, path = plain.partition("/")
        data: bytes = self._service.get_blob_client(container, path).download_blob().readall()
        return data.decode()

    def get_json(self, ref: str) -> Any:
        return json.loads(self.get_text(ref))

    def list_names(self, container: str, prefix: str | None, limit: int) -> list[str]:
        client = self._service.get_container_client(container)
        names: list[str] = []
        for blob in client.list_blobs(name_starts_with=prefix or None):
            names.append(str(blob.name))
            if len(names) >= limit:
                break
        return names
