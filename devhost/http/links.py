"""URLs of the Durable HTTP API, shaped like the ones the Durable extension gives out.

Two mounts serve the same API: the public webhook (`/runtime/webhooks/durabletask/`, guarded by the
system key when keys are configured, and the base of every status URL), and the in-process RPC base the
durable client binding points to. The RPC path carries a random per-process token instead of a key,
because `DurableOrchestrationClient` appends paths to `rpcBaseUrl` and cannot add a query string.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

WEBHOOK_PATH = "/runtime/webhooks/durabletask"
RPC_PATH_PREFIX = "/_devhost/rpc"
INSTANCE_ID_PLACEHOLDER = "INSTANCEID"
DEFAULT_CONNECTION_NAME = "Storage"


@dataclass(frozen=True)
class DurableLinks:
    origin: str  # e.g. http://127.0.0.1:7071
    task_hub: str
    system_key: str | None = None
    connection_name: str = DEFAULT_CONNECTION_NAME
    rpc_token: str = field(default_factory=lambda: secrets.token_urlsafe(18))

    @property
    def rpc_path(self) -> str:
        return f"{RPC_PATH_PREFIX}/{self.rpc_token}/durabletask"

    @property
    def rpc_base_url(self) -> str:
        return f"{self.origin}{self.rpc_path}/"

    @property
    def webhook_base_url(self) -> str:
        return f"{self.origin}{WEBHOOK_PATH}"

    def _query_suffix(self, task_hub: str | None = None, connection: str | None = None) -> str:
        hub = quote(task_hub or self.task_hub, safe="")
        conn = quote(connection or self.connection_name, safe="")
        suffix = f"taskHub={hub}&connection={conn}"
        if self.system_key:
            suffix += f"&code={quote(self.system_key, safe='')}"
        return suffix

    def management_payload(
        self,
        instance_id: str,
        *,
        origin: str | None = None,
        task_hub: str | None = None,
        connection: str | None = None,
        return_internal_server_error_on_failure: bool = False,
    ) -> dict[str, str]:
        """The `{id, statusQueryGetUri, ...}` object of a check-status response (202 + Location)."""
        base = f"{origin or self.origin}{WEBHOOK_PATH}/instances/{quote(instance_id, safe='')}"
        q = self._query_suffix(task_hub, connection)
        status_uri = f"{base}?{q}"
        if return_internal_server_error_on_failure:
            status_uri += "&returnInternalServerErrorOnFailure=true"
        return {
            "id": instance_id,
            "statusQueryGetUri": status_uri,
            "sendEventPostUri": f"{base}/raiseEvent/{{eventName}}?{q}",
            "terminatePostUri": f"{base}/terminate?reason={{text}}&{q}",
            "rewindPostUri": f"{base}/rewind?reason={{text}}&{q}",
            "purgeHistoryDeleteUri": f"{base}?{q}",
            "restartPostUri": f"{base}/restart?{q}",
            "suspendPostUri": f"{base}/suspend?reason={{text}}&{q}",
            "resumePostUri": f"{base}/resume?reason={{text}}&{q}",
        }

    def client_binding(self, *, task_hub: str | None = None, connection: str | None = None) -> dict[str, Any]:
        """The durable client binding data the host hands a function (what the SDK's client parses)."""
        management = self.management_payload(
            INSTANCE_ID_PLACEHOLDER, task_hub=task_hub, connection=connection
        )
        # The placeholder stays literal in every URL; the SDK substitutes it per instance.
        management["id"] = INSTANCE_ID_PLACEHOLDER
        q = self._query_suffix(task_hub, connection)
        prefix = f"{self.webhook_base_url}/orchestrators/{{functionName}}[/{{instanceId}}]"
        return {
            "taskHubName": task_hub or self.task_hub,
            "creationUrls": {
                "createNewInstancePostUri": f"{prefix}?{q}",
                "createAndWaitOnNewInstancePostUri": (
                    f"{prefix}?timeout={{timeoutInSeconds}}&pollingInterval={{intervalInSeconds}}&{q}"
                ),
            },
            "managementUrls": management,
            "baseUrl": self.webhook_base_url,
            "requiredQueryStringParameters": f"code={quote(self.system_key, safe='')}"
            if self.system_key
            else "",
            "rpcBaseUrl": self.rpc_base_url,
            "httpBaseUrl": "",
            "maxGrpcMessageSizeInBytes": 0,
            "grpcHttpClientTimeout": "00:01:40",
        }

    def client_binding_json(self, *, task_hub: str | None = None, connection: str | None = None) -> str:
        return json.dumps(self.client_binding(task_hub=task_hub, connection=connection))


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
