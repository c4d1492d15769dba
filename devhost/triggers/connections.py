"""Storage connection settings, resolved the way the Functions host resolves a binding's `connection`."""

from __future__ import annotations

from collections.abc import Mapping

from devhost.azurite import connection_string as azurite_connection_string
from devhost.azurite import uses_development_storage

DEFAULT_STORAGE = "AzureWebJobsStorage"


class StorageConnectionError(ValueError):
    """A binding's connection setting is missing or unusable here; the message names the setting."""


def storage_connection(settings: Mapping[str, str], name: str | None, *, where: str) -> str:
    """The connection string for a storage binding (`connection` unset means AzureWebJobsStorage).

    Like the host, `MyStorage` also finds `AzureWebJobsMyStorage`; `UseDevelopmentStorage=true` means the
    local emulator on its default ports.
    """
    setting = name or DEFAULT_STORAGE
    for candidate in (setting, f"AzureWebJobs{setting}"):
        value = settings.get(candidate)
        if value:
            return azurite_connection_string() if uses_development_storage(value) else value
    if settings.get(f"{setting}__serviceUri") or settings.get(f"{setting}__blobServiceUri"):
        raise StorageConnectionError(
            f"{where}: connection {setting!r} is identity-based (__serviceUri); "
            "devhost needs a connection string"
        )
    raise StorageConnectionError(f"{where}: app setting {setting!r} (the binding connection) is not set")


def account_key(connection: str) -> str:
    """A string that identifies the storage account behind a connection string, for grouping and wake-ups."""
    parts = dict(p.split("=", 1) for p in connection.split(";") if "=" in p)
    return (parts.get("BlobEndpoint") or parts.get("AccountName") or connection).rstrip("/").lower()
