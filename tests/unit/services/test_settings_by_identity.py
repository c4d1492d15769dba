"""Each shape of the storage and Service Bus settings gives clients for the right endpoints with the right
credential type (built, never connected), and a missing or contradictory setting is one configuration
error naming it, the same line `doctor` prints."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator

import pytest
from azure.core.credentials import AzureNamedKeyCredential
from azure.identity import DefaultAzureCredential, ManagedIdentityCredential
from azure.identity.aio import DefaultAzureCredential as AsyncDefaultAzureCredential

from jobclusters.commands.doctor import doctor_command
from jobclusters.needed_settings import app_problems
from jobclusters.services import factory
from jobclusters.services.run_events import ServiceBusTopicPublisher
from jobclusters.services.servicebus_connection import ServiceBusNamespace
from jobclusters.services.storage import StorageAccount
from jobclusters.settings import ConfigurationError, Settings

KEY = "c2VjcmV0a2V5c2VjcmV0a2V5c2VjcmV0a2V5c2VjcmV0a2V5"
CONNECTION = (
    f"DefaultEndpointsProtocol=https;AccountName=acct1;AccountKey={KEY};EndpointSuffix=core.windows.net"
)
SERVICE_BUS = f"Endpoint=sb://bus1.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey={KEY}"
IDENTITY_NAMES = (
    "AzureWebJobsStorage",
    "AzureWebJobsStorage__accountName",
    "AzureWebJobsStorage__blobServiceUri",
    "AzureWebJobsStorage__queueServiceUri",
    "AzureWebJobsStorage__tableServiceUri",
    "AzureWebJobsStorage__credential",
    "AzureWebJobsStorage__clientId",
    "ServiceBusConnection",
    "ServiceBusConnection__fullyQualifiedNamespace",
    "ServiceBusConnection__credential",
    "ServiceBusConnection__clientId",
    "JOBCLUSTERS_MODE",
)


def account(**values: str) -> StorageAccount:
    return StorageAccount.from_settings(Settings.from_mapping(values))


def _endpoints(a: StorageAccount) -> tuple[str, str, str, str | None]:
    return (
        str(a.blob_service().url).rstrip("/"),
        str(a.table_service().url).rstrip("/"),
        str(a.queue_service().url).rstrip("/"),
        a.queue_url,
    )


def test_the_embedded_default_is_azurite_by_its_connection_string() -> None:
    a = account()
    assert (a.blob_url, a.table_url, a.queue_url) == (
        "http://127.0.0.1:10000/devstoreaccount1",
        "http://127.0.0.1:10002/devstoreaccount1",
        "http://127.0.0.1:10001/devstoreaccount1",
    )
    assert a.credential == "connection string"
    assert isinstance(a.table_service().credential, AzureNamedKeyCredential)
    assert a.blob_service().credential.account_name == "devstoreaccount1"


def test_a_connection_string_gives_its_account_endpoints_and_never_shows_its_key() -> None:
    a = account(AzureWebJobsStorage=CONNECTION)
    assert _endpoints(a)[:3] == (
        "https://acct1.blob.core.windows.net",
        "https://acct1.table.core.windows.net",
        "https://acct1.queue.core.windows.net",
    )
    assert a.blob_service().credential.account_key == KEY
    assert KEY not in repr(a) and KEY not in str(a)


def test_an_account_name_is_the_public_endpoints_with_the_default_credential() -> None:
    a = account(AzureWebJobsStorage__accountName="acct1")
    assert _endpoints(a) == (
        "https://acct1.blob.core.windows.net",
        "https://acct1.table.core.windows.net",
        "https://acct1.queue.core.windows.net",
        "https://acct1.queue.core.windows.net",
    )
    assert a.credential == "default"
    for client in (a.blob_service(), a.table_service(), a.queue_service()):
        assert isinstance(client.credential, DefaultAzureCredential)


def test_managedidentity_with_a_client_id_is_that_user_assigned_identity() -> None:
    a = account(
        AzureWebJobsStorage__accountName="acct1",
        AzureWebJobsStorage__credential="managedidentity",
        AzureWebJobsStorage__clientId="11111111-2222-3333-4444-555555555555",
    )
    assert (a.credential, a.client_id) == ("managed identity", "11111111-2222-3333-4444-555555555555")
    assert isinstance(a.blob_service().credential, ManagedIdentityCredential)
    assert isinstance(a.table_service().credential, ManagedIdentityCredential)


def test_service_uris_are_used_as_given_and_the_queue_is_optional() -> None:
    a = account(
        AzureWebJobsStorage__blobServiceUri="https://acct2.blob.core.usgovcloudapi.net/",
        AzureWebJobsStorage__tableServiceUri="https://acct2.table.core.usgovcloudapi.net",
    )
    assert (a.blob_url, a.table_url, a.queue_url) == (
        "https://acct2.blob.core.usgovcloudapi.net",
        "https://acct2.table.core.usgovcloudapi.net",
        None,
    )
    with pytest.raises(ConfigurationError) as caught:
        a.queue_service()
    assert caught.value.setting == "AzureWebJobsStorage__queueServiceUri"


def test_async_clients_carry_an_async_identity_credential_and_close_it() -> None:
    a = account(AzureWebJobsStorage__accountName="acct1")

    async def check() -> list[object]:
        seen: list[object] = []
        async with a.blob_service_aio() as blobs:
            seen += [blobs.url.rstrip("/"), type(blobs.credential)]
        async with a.table_client_aio("jobs") as table:
            seen += [table.url.rstrip("/"), type(table.credential)]
        async with a.table_service_aio() as tables:
            seen += [tables.url.rstrip("/")]
        return seen

    assert asyncio.run(check()) == [
        "https://acct1.blob.core.windows.net",
        AsyncDefaultAzureCredential,
        "https://acct1.table.core.windows.net",
        AsyncDefaultAzureCredential,
        "https://acct1.table.core.windows.net",
    ]


@pytest.mark.parametrize(
    ("values", "setting", "problem"),
    [
        (
            {"AzureWebJobsStorage": CONNECTION, "AzureWebJobsStorage__accountName": "acct1"},
            "AzureWebJobsStorage",
            "malformed",
        ),
        (
            {"AzureWebJobsStorage__credential": "managedidentity"},
            "AzureWebJobsStorage__accountName",
            "missing",
        ),
        (
            {"AzureWebJobsStorage__blobServiceUri": "https://acct1.blob.core.windows.net"},
            "AzureWebJobsStorage__tableServiceUri",
            "missing",
        ),
        (
            {"AzureWebJobsStorage__accountName": "acct1", "AzureWebJobsStorage__credential": "clientsecret"},
            "AzureWebJobsStorage__credential",
            "malformed",
        ),
        (
            {
                "AzureWebJobsStorage__accountName": "acct1",
                "AzureWebJobsStorage__blobServiceUri": "https://other.blob.core.windows.net",
            },
            "AzureWebJobsStorage__blobServiceUri",
            "malformed",
        ),
        (
            {"AzureWebJobsStorage__accountName": "acct-1.blob"},
            "AzureWebJobsStorage__accountName",
            "malformed",
        ),
        ({"AzureWebJobsStorage": "no connection string"}, "AzureWebJobsStorage", "malformed"),
    ],
)
def test_a_missing_or_contradictory_storage_setting_is_one_error_naming_it(
    values: dict[str, str], setting: str, problem: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        account(**values)
    assert (caught.value.setting, caught.value.problem) == (setting, problem)
    assert str(caught.value).startswith(f"app setting {setting} is {problem}")
    assert KEY not in str(caught.value)


def test_service_bus_by_connection_string_or_by_namespace() -> None:
    by_key = ServiceBusNamespace.from_settings(Settings.from_mapping({"ServiceBusConnection": SERVICE_BUS}))
    assert by_key is not None
    assert (by_key.fully_qualified_namespace, by_key.credential) == (
        "bus1.servicebus.windows.net",
        "connection string",
    )
    assert KEY not in repr(by_key)
    by_identity = ServiceBusNamespace.from_settings(
        Settings.from_mapping(
            {
                "ServiceBusConnection__fullyQualifiedNamespace": "bus2.servicebus.windows.net",
                "ServiceBusConnection__credential": "managedidentity",
            }
        )
    )
    assert by_identity is not None
    client = by_identity.client()
    assert client.fully_qualified_namespace == "bus2.servicebus.windows.net"
    assert isinstance(client._credential, ManagedIdentityCredential)
    assert ServiceBusNamespace.from_settings(Settings.from_mapping({})) is None


@pytest.mark.parametrize(
    ("values", "setting", "problem"),
    [
        (
            {"ServiceBusConnection__clientId": "abc"},
            "ServiceBusConnection__fullyQualifiedNamespace",
            "missing",
        ),
        (
            {
                "ServiceBusConnection": SERVICE_BUS,
                "ServiceBusConnection__fullyQualifiedNamespace": "b.servicebus.windows.net",
            },
            "ServiceBusConnection",
            "malformed",
        ),
        (
            {"ServiceBusConnection__fullyQualifiedNamespace": "bus"},
            "ServiceBusConnection__fullyQualifiedNamespace",
            "malformed",
        ),
        ({"ServiceBusConnection": "Endpoint=https://x"}, "ServiceBusConnection", "malformed"),
    ],
)
def test_a_wrong_service_bus_setting_is_one_error_naming_it(
    values: dict[str, str], setting: str, problem: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        ServiceBusNamespace.from_settings(Settings.from_mapping(values))
    assert (caught.value.setting, caught.value.problem) == (setting, problem)


def test_needed_settings_accept_the_identity_shape_and_name_what_it_lacks() -> None:
    identity = {
        "JOBCLUSTERS_MODE": "azure",
        "JOBCLUSTERS_RUN_SIGNING_KEY": "a-signing-key",
        "AzureWebJobsStorage__accountName": "acct1",
    }
    assert app_problems(Settings.from_mapping(identity), []) == []
    half = {
        "JOBCLUSTERS_MODE": "azure",
        "JOBCLUSTERS_RUN_SIGNING_KEY": "a-signing-key",
        "AzureWebJobsStorage__credential": "managedidentity",
    }
    [found] = app_problems(Settings.from_mapping(half), [])
    assert found.problem.setting == "AzureWebJobsStorage__accountName"
    assert found.line.startswith("app setting AzureWebJobsStorage__accountName is missing")


def test_doctor_prints_the_identity_setting_it_lacks() -> None:
    import argparse

    args = argparse.Namespace(files=[], no_registered=True)
    out = io.StringIO()
    settings = Settings.from_mapping(
        {
            "JOBCLUSTERS_MODE": "azure",
            "JOBCLUSTERS_RUN_SIGNING_KEY": "a-signing-key",
            "AzureWebJobsStorage__blobServiceUri": "https://a.blob.core.windows.net",
        }
    )
    assert doctor_command(args, out=out, settings=settings) == 1
    assert "missing: app setting AzureWebJobsStorage__tableServiceUri is missing" in out.getvalue()


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    for name in IDENTITY_NAMES:
        monkeypatch.delenv(name, raising=False)
    factory.reset()
    yield monkeypatch
    factory.reset()


def test_the_factory_hands_every_store_the_identity_account(env: pytest.MonkeyPatch) -> None:
    env.setenv("JOBCLUSTERS_MODE", "azure")
    env.setenv("JOBCLUSTERS_RUN_SIGNING_KEY", "a-signing-key")
    env.setenv("AzureWebJobsStorage__accountName", "acct1")
    env.setenv("ServiceBusConnection__fullyQualifiedNamespace", "bus1.servicebus.windows.net")
    assert factory.storage_account().blob_url == "https://acct1.blob.core.windows.net"
    assert factory.get_blob_refs().account_url == "https://acct1.blob.core.windows.net"
    publisher = factory.get_event_publisher()
    assert isinstance(publisher, ServiceBusTopicPublisher)
    assert isinstance(publisher._client._credential, DefaultAzureCredential)


def test_the_factory_stays_on_azurite_by_default(env: pytest.MonkeyPatch) -> None:
    assert factory.storage_account().blob_url == "http://127.0.0.1:10000/devstoreaccount1"
    assert factory.storage_account().credential == "connection string"
