"""The app's storage account (Azurite locally): the one place that reads the `AzureWebJobsStorage` setting
family and hands out the SDK clients for it.

Two shapes, as the Functions host reads them: a connection string in `AzureWebJobsStorage`, or an
identity-based connection (`AzureWebJobsStorage__accountName`, or the `__blobServiceUri` /
`__queueServiceUri` / `__tableServiceUri` endpoints, authenticated by the app's identity; see
`jobclusters.services.identity`). Every store takes a `StorageAccount`, so none of them knows which shape
is configured. `UseDevelopmentStorage=true` is what local settings say; azure-data-tables does not
understand that shorthand, so it becomes the emulator's well-known account on its default ports (a
public, documented key).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from pydantic import SecretStr

from jobclusters.services.identity import CredentialKind, credential_kind, token_credential
from jobclusters.settings import ConfigurationError, Settings

if TYPE_CHECKING:
    from azure.data.tables import TableServiceClient
    from azure.data.tables.aio import TableClient as AsyncTableClient
    from azure.data.tables.aio import TableServiceClient as AsyncTableServiceClient
    from azure.storage.blob import BlobServiceClient
    from azure.storage.blob.aio import BlobServiceClient as AsyncBlobServiceClient
    from azure.storage.queue import QueueServiceClient

#: Every container the app writes its own blobs to (logs, manifests, staged job files) starts with this.
APP_CONTAINER_PREFIX = "jobclusters-"

STORAGE_SETTING = "AzureWebJobsStorage"
NEEDED_FOR = "the app's storage account"
CONNECTION_EXPECTED = (
    "a storage connection string (AccountName=...;AccountKey=... or UseDevelopmentStorage=true)"
)

_DEV_ACCOUNT = "devstoreaccount1"
_DEV_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

_IDENTITY_FIELDS = {
    "storage_account_name": f"{STORAGE_SETTING}__accountName",
    "storage_blob_uri": f"{STORAGE_SETTING}__blobServiceUri",
    "storage_queue_uri": f"{STORAGE_SETTING}__queueServiceUri",
    "storage_table_uri": f"{STORAGE_SETTING}__tableServiceUri",
    "storage_credential": f"{STORAGE_SETTING}__credential",
    "storage_client_id": f"{STORAGE_SETTING}__clientId",
}


def expand_connection_string(value: str) -> str:
    value = value.strip()
    if value.replace(" ", "").lower().rstrip(";") == "usedevelopmentstorage=true":
        base = "http://127.0.0.1"
        return (
            f"DefaultEndpointsProtocol=http;AccountName={_DEV_ACCOUNT};AccountKey={_DEV_KEY};"
            f"BlobEndpoint={base}:10000/{_DEV_ACCOUNT};QueueEndpoint={base}:10001/{_DEV_ACCOUNT};"
            f"TableEndpoint={base}:10002/{_DEV_ACCOUNT};"
        )
    return value


def storage_connection_string(settings: Settings) -> str:
    """The connection-string shape only (local tools that talk to Azurite); the app uses `StorageAccount`."""
    return expand_connection_string(settings.storage_connection.get_secret_value())


def uses_storage_identity(settings: Settings) -> bool:
    return any(getattr(settings, name) is not None for name in _IDENTITY_FIELDS)


@dataclass(frozen=True)
class StorageAccount:
    """Where the account's services are and how to authenticate; `repr` never shows the secret."""

    blob_url: str
    table_url: str
    queue_url: str | None
    credential: CredentialKind
    client_id: str | None = None
    connection_string: SecretStr | None = field(default=None, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> StorageAccount:
        """Raises `ConfigurationError` naming the setting that is missing, malformed or contradicts
        another."""
        if not uses_storage_identity(settings):
            return cls.from_connection_string(settings.storage_connection.get_secret_value())
        if "storage_connection" in settings.model_fields_set:
            raise ConfigurationError(
                STORAGE_SETTING,
                NEEDED_FOR,
                f"either a connection string or the identity settings {STORAGE_SETTING}__*, not both",
                problem="malformed",
            )
        kind = credential_kind(STORAGE_SETTING, settings.storage_credential, NEEDED_FOR)
        name = settings.storage_account_name
        blob = _endpoint(settings, "storage_blob_uri", name, "blob")
        table = _endpoint(settings, "storage_table_uri", name, "table")
        if blob is None or table is None:
            raise ConfigurationError(
                _IDENTITY_FIELDS["storage_account_name" if blob is None else "storage_table_uri"],
                NEEDED_FOR,
                f"the storage account name, or {STORAGE_SETTING}__blobServiceUri and "
                f"{STORAGE_SETTING}__tableServiceUri (identity-based connection)",
            )
        return cls(
            blob_url=blob,
            table_url=table,
            queue_url=_endpoint(settings, "storage_queue_uri", name, "queue"),
            credential=kind,
            client_id=settings.storage_client_id,
        )

    @classmethod
    def from_connection_string(cls, value: str) -> StorageAccount:
        from azure.data.tables import TableServiceClient
        from azure.storage.blob import BlobServiceClient
        from azure.storage.queue import QueueServiceClient

        expanded = expand_connection_string(value)
        try:
            blob = BlobServiceClient.from_connection_string(expanded).url
            table = TableServiceClient.from_connection_string(expanded).url
            queue = QueueServiceClient.from_connection_string(expanded).url
        except (ValueError, KeyError, AttributeError):
            raise ConfigurationError(
                STORAGE_SETTING, NEEDED_FOR, CONNECTION_EXPECTED, problem="malformed"
            ) from None
        return cls(
            blob_url=blob.rstrip("/"),
            table_url=table.rstrip("/"),
            queue_url=queue.rstrip("/"),
            credential="connection string",
            connection_string=SecretStr(expanded),
        )

    @property
    def account_url(self) -> str:
        return self.blob_url

    @cached_property
    def _sync_credential(self) -> Any:
        return token_credential(self.credential, self.client_id)

    def _secret(self) -> str:
        assert self.connection_string is not None
        return self.connection_string.get_secret_value()

    def blob_service(self) -> BlobServiceClient:
        from azure.storage.blob import BlobServiceClient

        if self.connection_string is not None:
            return BlobServiceClient.from_connection_string(self._secret())
        return BlobServiceClient(self.blob_url, credential=self._sync_credential)

    def table_service(self) -> TableServiceClient:
        from azure.data.tables import TableServiceClient

        if self.connection_string is not None:
            return TableServiceClient.from_connection_string(self._secret())
        return TableServiceClient(self.table_url, credential=self._sync_credential)

    def queue_service(self) -> QueueServiceClient:
        from azure.storage.queue import QueueServiceClient

        if self.connection_string is not None:
            return QueueServiceClient.from_connection_string(self._secret())
        if self.queue_url is None:
            raise ConfigurationError(
                f"{STORAGE_SETTING}__queueServiceUri",
                f"{NEEDED_FOR} (queues)",
                "https://<account>.queue.core.windows.net",
            )
        return QueueServiceClient(self.queue_url, credential=self._sync_credential)

    @contextlib.asynccontextmanager
    async def blob_service_aio(self) -> AsyncIterator[AsyncBlobServiceClient]:
        """An async client and, for identity, its own async credential: both closed on exit."""
        from azure.storage.blob.aio import BlobServiceClient as AsyncBlob

        if self.connection_string is not None:
            async with AsyncBlob.from_connection_string(self._secret()) as client:
                yield client
            return
        async with (
            token_credential(self.credential, self.client_id, aio=True) as credential,
            AsyncBlob(self.blob_url, credential=credential) as client,
        ):
            yield client

    @contextlib.asynccontextmanager
    async def table_service_aio(self) -> AsyncIterator[AsyncTableServiceClient]:
        from azure.data.tables.aio import TableServiceClient as AsyncTableService

        if self.connection_string is not None:
            async with AsyncTableService.from_connection_string(self._secret()) as client:
                yield client
            return
        async with (
            token_credential(self.credential, self.client_id, aio=True) as credential,
            AsyncTableService(self.table_url, credential=credential) as client,
        ):
            yield client

    @contextlib.asynccontextmanager
    async def table_client_aio(self, table_name: str) -> AsyncIterator[AsyncTableClient]:
        from azure.data.tables.aio import TableClient as AsyncTable

        if self.connection_string is not None:
            async with AsyncTable.from_connection_string(self._secret(), table_name) as client:
                yield client
            return
        async with (
            token_credential(self.credential, self.client_id, aio=True) as credential,
            AsyncTable(self.table_url, table_name, credential=credential) as client,
        ):
            yield client


def storage_account(account: StorageAccount | str) -> StorageAccount:
    """What a store's constructor takes: an account, or a connection string (tests, benchmarks, Azurite)."""
    return account if isinstance(account, StorageAccount) else StorageAccount.from_connection_string(account)


def _endpoint(settings: Settings, field_name: str, account_name: str | None, service: str) -> str | None:
    setting = _IDENTITY_FIELDS[field_name]
    uri: str | None = getattr(settings, field_name)
    if uri is not None:
        parts = urlsplit(uri.strip())
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ConfigurationError(
                setting, NEEDED_FOR, f"https://<account>.{service}.core.windows.net", problem="malformed"
            )
        if account_name and not _same_account(parts.hostname, parts.path, account_name):
            raise ConfigurationError(
                setting,
                NEEDED_FOR,
                f"an endpoint of the account {STORAGE_SETTING}__accountName names",
                problem="malformed",
            )
        return uri.strip().rstrip("/")
    if account_name:
        if not account_name.strip().isalnum():
            raise ConfigurationError(
                _IDENTITY_FIELDS["storage_account_name"],
                NEEDED_FOR,
                "a storage account name (3-24 lowercase letters and digits)",
                problem="malformed",
            )
        return f"https://{account_name.strip()}.{service}.core.windows.net"
    return None


def _same_account(hostname: str, path: str, account_name: str) -> bool:
    """The account's public endpoint (`<name>.<service>...`) or an emulator's (`host:port/<name>`)."""
    name = account_name.strip().lower()
    return hostname.lower().split(".", 1)[0] == name or path.strip("/").split("/", 1)[0].lower() == name


def is_app_container(container: str, table_prefix: str) -> bool:
    """A container of the app's own blobs (its definitions container is named after the table prefix):
    their BlobCreated events are the app's own writes, never a file a job waits for."""
    return container.startswith((APP_CONTAINER_PREFIX, f"{table_prefix.lower()}-"))
