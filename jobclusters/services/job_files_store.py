"""Job folders staged for Batch tasks, one container per content digest in the app's storage account.

A container is marked complete (container metadata) only after every file is written, so an upload cut
short is redone by the next run rather than handing Batch half a folder. The marker is not a blob: Batch
downloads every blob of the container into the task's working directory.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError

from jobclusters.services.storage import StorageAccount, storage_account

COMPLETE = "jobclusterscomplete"


class BlobJobFilesStore:
    def __init__(self, account: StorageAccount | str) -> None:
        self._service = storage_account(account).blob_service()

    def is_complete(self, container: str) -> bool:
        try:
            properties = self._service.get_container_client(container).get_container_properties()
        except ResourceNotFoundError:
            return False
        return (properties.metadata or {}).get(COMPLETE) == "true"

    def upload(self, container: str, files: tuple[tuple[str, Path], ...]) -> None:
        client = self._service.get_container_client(container)
        with contextlib.suppress(ResourceExistsError):
            client.create_container()
        for name, path in files:
            try:
                fh = open(path, "rb")  # noqa: SIM115
            except FileNotFoundError:
                continue  # removed since the snapshot: the folder no longer has it
            with fh:
                client.upload_blob(name, fh, overwrite=True)
        client.set_container_metadata({COMPLETE: "true"})
