"""The app's storage account as the triggers and the HTTP API reach it (Azurite locally).

`UseDevelopmentStorage=true` is what local settings say; azure-data-tables does not understand that
shorthand, so it becomes the emulator's well-known account on its default ports (a public, documented key).
"""

from __future__ import annotations

from jobclusters.settings import Settings

#: Every container the app writes its own blobs to (logs, manifests, staged job files) starts with this.
APP_CONTAINER_PREFIX = "jobclusters-"

_DEV_ACCOUNT = "devstoreaccount1"
_DEV_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def storage_connection_string(settings: Settings) -> str:
    value = settings.storage_connection.get_secret_value().strip()
    if value.replace(" ", "").lower().rstrip(";") == "usedevelopmentstorage=true":
        base = "http://127.0.0.1"
        return (
            f"DefaultEndpointsProtocol=http;AccountName={_DEV_ACCOUNT};AccountKey={_DEV_KEY};"
            f"BlobEndpoint={base}:10000/{_DEV_ACCOUNT};QueueEndpoint={base}:10001/{_DEV_ACCOUNT};"
            f"TableEndpoint={base}:10002/{_DEV_ACCOUNT};"
        )
    return value


def is_app_container(container: str, table_prefix: str) -> bool:
    """A container of the app's own blobs (its definitions container is named after the table prefix):
    their BlobCreated events are the app's own writes, never a file a job waits for."""
    return container.startswith((APP_CONTAINER_PREFIX, f"{table_prefix.lower()}-"))
