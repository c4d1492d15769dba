"""The credential of an identity-based connection, as the Functions host reads it.

A connection named `X` is identity-based when `X__<property>` settings describe it instead of a secret in
`X`. `X__credential` = `managedidentity` pins the app's managed identity (`X__clientId` picks a
user-assigned one); unset means `DefaultAzureCredential`, so a developer's `az login` works on a laptop
and the managed identity on Azure, the same fallback the host uses.
"""

from __future__ import annotations

from typing import Any, Literal

from jobclusters.settings import ConfigurationError

CredentialKind = Literal["connection string", "default", "managed identity"]


def credential_kind(connection: str, credential: str | None, needed_for: str) -> CredentialKind:
    if credential is None:
        return "default"
    if credential.strip().lower() == "managedidentity":
        return "managed identity"
    raise ConfigurationError(
        f"{connection}__credential",
        needed_for,
        "managedidentity (or unset for DefaultAzureCredential)",
        problem="malformed",
    )


def token_credential(kind: CredentialKind, client_id: str | None, *, aio: bool = False) -> Any:
    """A new credential object; an async client needs the async flavour, closed with the client."""
    if kind == "connection string":
        raise ValueError("a connection string carries its own credential")
    if aio:
        from azure.identity.aio import DefaultAzureCredential, ManagedIdentityCredential
    else:
        from azure.identity import DefaultAzureCredential, ManagedIdentityCredential  # type: ignore[assignment]
    if kind == "managed identity":
        return ManagedIdentityCredential(client_id=client_id) if client_id else ManagedIdentityCredential()
    return DefaultAzureCredential(managed_identity_client_id=client_id)
