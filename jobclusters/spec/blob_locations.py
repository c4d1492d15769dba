"""Where a storage-event or file-arrival rule looks: its container and the path prefix inside it.

Shared by the rule matcher (which blob starts a job) and validation (does the container exist), so both
read a rule's location the same way.
"""

from __future__ import annotations

from urllib.parse import unquote, urlparse

from jobclusters.spec.model import FileArrivalTrigger, StorageEventTrigger, Trigger


def split_adf_path(value: str, default_container: str | None) -> tuple[str | None, str]:
    """ADF writes `/container/blobs/path`; we also accept a plain path inside the rule's container."""
    if value.startswith("/"):
        parts = value[1:].split("/", 2)
        if len(parts) >= 2 and parts[1] == "blobs":
            return parts[0], parts[2] if len(parts) == 3 else ""
        return parts[0], "/".join(parts[1:])
    return default_container, value


def file_arrival_location(url: str) -> tuple[str | None, str]:
    """(container, path prefix) of a file-arrival URL: abfss://c@acct.dfs.../p, wasbs://c@acct.../p,
    https://acct.blob.core.windows.net/c/p, or a plain `c/p`."""
    parsed = urlparse(url)
    if parsed.scheme in ("abfss", "abfs", "wasbs", "wasb"):
        container = parsed.netloc.split("@", 1)[0] if "@" in parsed.netloc else None
        return container, unquote(parsed.path).lstrip("/")
    if parsed.scheme in ("http", "https"):
        segments = unquote(parsed.path).lstrip("/").split("/")
        if parsed.hostname in ("127.0.0.1", "localhost") and len(segments) > 1:
            segments = segments[1:]  # emulator URLs carry the account first
        return segments[0] or None, "/".join(segments[1:])
    container, _, prefix = url.lstrip("/").partition("/")
    return container or None, prefix


def rule_container(rule: Trigger) -> str | None:
    """The one container a rule watches, or None when it accepts any."""
    if isinstance(rule, FileArrivalTrigger):
        return file_arrival_location(rule.url)[0]
    assert isinstance(rule, StorageEventTrigger)
    if rule.container is not None:
        return rule.container
    return split_adf_path(rule.prefix, None)[0] if rule.prefix else None
