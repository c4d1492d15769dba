"""One typed settings object for the whole app.

Settings come from the process environment (what the Functions host gives the worker, from app settings
on Azure or `local.settings.json` `Values` locally). Nothing reads the environment at import time: call
`get_settings()` where a value is needed. Secret values are `SecretStr`, so a settings object that ends
up in a log or a repr never shows them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

LOCAL_STORAGE = "UseDevelopmentStorage=true"
DEFAULT_COST_TAGS = ("Project", "Environment", "CostCenter", "Owner")


class Settings(BaseModel):
    """Field names are the app-setting names (aliases), so the sample file documents them one to one."""

    model_config = ConfigDict(populate_by_name=True, frozen=True, extra="ignore")

    mode: Literal["local", "azure"] = Field("local", alias="JOBCLUSTERS_MODE")
    state_dir: Path = Field(Path(".state"), alias="JOBCLUSTERS_STATE_DIR")
    storage_connection: SecretStr = Field(SecretStr(LOCAL_STORAGE), alias="AzureWebJobsStorage")
    # The identity-based shape of the same connection (the Functions host's `<name>__<property>` settings):
    # an account name or service URIs, authenticated by the app's identity instead of a key.
    storage_account_name: str | None = Field(None, alias="AzureWebJobsStorage__accountName")
    storage_blob_uri: str | None = Field(None, alias="AzureWebJobsStorage__blobServiceUri")
    storage_queue_uri: str | None = Field(None, alias="AzureWebJobsStorage__queueServiceUri")
    storage_table_uri: str | None = Field(None, alias="AzureWebJobsStorage__tableServiceUri")
    storage_credential: str | None = Field(None, alias="AzureWebJobsStorage__credential")
    storage_client_id: str | None = Field(None, alias="AzureWebJobsStorage__clientId")
    table_prefix: str = Field("jobclusters", alias="JOBCLUSTERS_TABLE_PREFIX")
    required_cost_tags: tuple[str, ...] = Field(DEFAULT_COST_TAGS, alias="JOBCLUSTERS_REQUIRED_TAGS")

    batch_account_url: str | None = Field(None, alias="BATCH_ACCOUNT_URL")
    batch_account_name: str | None = Field(None, alias="BATCH_ACCOUNT_NAME")
    batch_account_key: SecretStr | None = Field(None, alias="BATCH_ACCOUNT_KEY")
    # Container URL Batch uploads each task's stdout/stderr to (may carry a write SAS). Local mode defaults
    # to a container of the app's storage account; on Azure, unset means the logs stay on the nodes.
    batch_logs_url: SecretStr | None = Field(None, alias="JOBCLUSTERS_BATCH_LOGS_URL")

    databricks_host: str | None = Field(None, alias="DATABRICKS_HOST")
    databricks_token: SecretStr | None = Field(None, alias="DATABRICKS_TOKEN")

    livy_url: str | None = Field(None, alias="HDINSIGHT_LIVY_URL")
    livy_username: str | None = Field(None, alias="HDINSIGHT_USERNAME")
    livy_password: SecretStr | None = Field(None, alias="HDINSIGHT_PASSWORD")

    synapse_endpoint: str | None = Field(None, alias="SYNAPSE_ENDPOINT")
    synapse_spark_pool: str | None = Field(None, alias="SYNAPSE_SPARK_POOL")

    servicebus_connection: SecretStr | None = Field(None, alias="ServiceBusConnection")
    servicebus_namespace: str | None = Field(None, alias="ServiceBusConnection__fullyQualifiedNamespace")
    servicebus_credential: str | None = Field(None, alias="ServiceBusConnection__credential")
    servicebus_client_id: str | None = Field(None, alias="ServiceBusConnection__clientId")
    run_events_topic: str = Field("job-run-events", alias="JOBCLUSTERS_RUN_EVENTS_TOPIC")
    run_signing_key: SecretStr | None = Field(None, alias="JOBCLUSTERS_RUN_SIGNING_KEY")
    # How long an outage of storage, tracking or a control plane is waited out before a run fails for it.
    infra_retry_seconds: float = Field(180.0, gt=0, le=86400, alias="JOBCLUSTERS_INFRA_RETRY_SECONDS")
    # Poll schedules of remote work (first interval, growth, cap); unset: Azure's services 5 s growing
    # 1.5x to 120 s for Batch and 300 s for clusters; the local executors, which signal the end of their
    # work so that a poll is only the fallback, 0.5 s doubling to 10 s.
    batch_poll_first_seconds: float | None = Field(None, gt=0, alias="JOBCLUSTERS_BATCH_POLL_FIRST_SECONDS")
    batch_poll_factor: float | None = Field(None, ge=1, alias="JOBCLUSTERS_BATCH_POLL_FACTOR")
    batch_poll_max_seconds: float | None = Field(None, gt=0, alias="JOBCLUSTERS_BATCH_POLL_MAX_SECONDS")
    cluster_poll_first_seconds: float | None = Field(
        None, gt=0, alias="JOBCLUSTERS_CLUSTER_POLL_FIRST_SECONDS"
    )
    cluster_poll_factor: float | None = Field(None, ge=1, alias="JOBCLUSTERS_CLUSTER_POLL_FACTOR")
    cluster_poll_max_seconds: float | None = Field(None, gt=0, alias="JOBCLUSTERS_CLUSTER_POLL_MAX_SECONDS")
    # Cost (docs/cost.md): the region prices are looked up in, the Retail Prices API the daily refresh
    # reads (Azure mode), and the cost policy file applied to every job.
    price_region: str = Field("eastus", alias="JOBCLUSTERS_PRICE_REGION")
    retail_prices_url: str | None = Field(None, alias="JOBCLUSTERS_RETAIL_PRICES_URL")
    cost_policy_file: Path | None = Field(None, alias="JOBCLUSTERS_COST_POLICY")

    @classmethod
    def from_mapping(cls, values: Mapping[str, str]) -> Settings:
        data: dict[str, object] = {k: v for k, v in values.items() if v != ""}
        tags = data.get("JOBCLUSTERS_REQUIRED_TAGS")
        if isinstance(tags, str):
            data["JOBCLUSTERS_REQUIRED_TAGS"] = tuple(t.strip() for t in tags.split(",") if t.strip())
        return cls.model_validate(data)


#: how a configuration problem reads wherever it ends up (a task message, a log line, `doctor`)
_CONFIGURATION_REASON = re.compile(r"app setting [A-Za-z_][A-Za-z0-9_]* is (?:missing|malformed)\b[^\r\n]*")


def configuration_message(setting: str, problem: str, needed_for: str, expected: str) -> str:
    return f"app setting {setting} is {problem} (needed for {needed_for}): expected {expected}"


def configuration_reason(text: str | None) -> str | None:
    """The one-line configuration problem inside `text` (a failure message that may carry an SDK prefix
    or a stack trace), else None: across the durable boundary only the text survives, not the type."""
    found = _CONFIGURATION_REASON.search(text or "")
    return found.group(0).rstrip(" .") if found else None


class ConfigurationError(ValueError):
    """A setting a service needs is missing or malformed. No retry can fix that, so the task retry policy
    treats it as permanent; the message names the setting and never carries its value."""

    def __init__(self, setting: str, needed_for: str, expected: str, *, problem: str = "missing") -> None:
        super().__init__(configuration_message(setting, problem, needed_for, expected))
        self.setting = setting
        self.problem = problem
        self.needed_for = needed_for
        self.expected = expected


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.from_mapping(os.environ)
