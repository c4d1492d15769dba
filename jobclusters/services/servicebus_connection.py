"""The app's Service Bus namespace: the one place that reads the `ServiceBusConnection` setting family.

A connection string in `ServiceBusConnection`, or the identity-based shape
`ServiceBusConnection__fullyQualifiedNamespace` (+ `__credential` / `__clientId`, see
`jobclusters.services.identity`), the same names the host's Service Bus trigger reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from pydantic import SecretStr

from jobclusters.services.identity import CredentialKind, credential_kind, token_credential
from jobclusters.settings import ConfigurationError, Settings

if TYPE_CHECKING:
    from azure.servicebus import ServiceBusClient

SERVICEBUS_SETTING = "ServiceBusConnection"
NAMESPACE_SETTING = f"{SERVICEBUS_SETTING}__fullyQualifiedNamespace"
NEEDED_FOR = "Service Bus run events"
CONNECTION_EXPECTED = "a Service Bus connection string (Endpoint=sb://...)"
NAMESPACE_EXPECTED = "the namespace host name, <namespace>.servicebus.windows.net"


def uses_servicebus_identity(settings: Settings) -> bool:
    identity = (settings.servicebus_namespace, settings.servicebus_credential, settings.servicebus_client_id)
    return any(value is not None for value in identity)


def servicebus_configured(settings: Settings) -> bool:
    return settings.servicebus_connection is not None or uses_servicebus_identity(settings)


@dataclass(frozen=True)
class ServiceBusNamespace:
    fully_qualified_namespace: str
    credential: CredentialKind
    client_id: str | None = None
    connection_string: SecretStr | None = field(default=None, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> ServiceBusNamespace | None:
        """None when no Service Bus is configured; `ConfigurationError` naming the setting when one is
        configured wrongly (malformed, half an identity, or both shapes at once)."""
        connection = settings.servicebus_connection
        if not uses_servicebus_identity(settings):
            return None if connection is None else cls.from_connection_string(connection.get_secret_value())
        if connection is not None:
            raise ConfigurationError(
                SERVICEBUS_SETTING,
                NEEDED_FOR,
                f"either a connection string or the identity settings {SERVICEBUS_SETTING}__*, not both",
                problem="malformed",
            )
        kind = credential_kind(SERVICEBUS_SETTING, settings.servicebus_credential, NEEDED_FOR)
        if settings.servicebus_namespace is None:
            raise ConfigurationError(NAMESPACE_SETTING, NEEDED_FOR, NAMESPACE_EXPECTED)
        host = _host(settings.servicebus_namespace)
        if host is None:
            raise ConfigurationError(NAMESPACE_SETTING, NEEDED_FOR, NAMESPACE_EXPECTED, problem="malformed")
        return cls(host, kind, settings.servicebus_client_id)

    @classmethod
    def from_connection_string(cls, value: str) -> ServiceBusNamespace:
        fields = dict(part.split("=", 1) for part in value.split(";") if "=" in part)
        endpoint = {k.strip().lower(): v.strip() for k, v in fields.items()}.get("endpoint", "")
        host = _host(endpoint) if endpoint.lower().startswith("sb://") else None
        if host is None:
            raise ConfigurationError(SERVICEBUS_SETTING, NEEDED_FOR, CONNECTION_EXPECTED, problem="malformed")
        return cls(host, "connection string", connection_string=SecretStr(value))

    def client(self) -> ServiceBusClient:
        from azure.servicebus import ServiceBusClient

        if self.connection_string is not None:
            return ServiceBusClient.from_connection_string(self.connection_string.get_secret_value())
        return ServiceBusClient(
            self.fully_qualified_namespace, credential=token_credential(self.credential, self.client_id)
        )


def _host(value: str) -> str | None:
    text = value.strip()
    host = urlsplit(text if "://" in text else f"sb://{text}").hostname
    return host if host and "." in host else None
