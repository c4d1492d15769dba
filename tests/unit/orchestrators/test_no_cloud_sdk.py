"""Orchestrators are replayed generators: nothing they import (directly, or through our own modules) may be
a cloud SDK or an HTTP client, so no I/O can sneak into a replay."""

from __future__ import annotations

from pathlib import Path

from tests.unit.import_graph import PROJECT, imported_closure

FORBIDDEN = (
    "azure.batch",
    "azure.storage",
    "azure.data.tables",
    "azure.servicebus",
    "azure.identity",
    "azure.synapse",
    "azure.core",
    "databricks",
    "requests",
    "aiohttp",
    "urllib.request",
    "httpx",
    "socket",
    "subprocess",
)


def test_no_orchestrator_reaches_a_cloud_sdk_or_http_client() -> None:
    modules = sorted((PROJECT / "orchestrators").glob("*.py"))
    assert len(modules) >= 5
    offenders = {
        f"{importer} imports {name}"
        for importer, names in imported_closure(modules).items()
        for name in names
        if any(name == f or name.startswith(f + ".") for f in FORBIDDEN)
    }
    assert not offenders, sorted(offenders)


def test_the_check_sees_an_sdk_import_through_a_first_party_module(tmp_path: Path) -> None:
    """Guard for the guard: an orchestrator-like module that reaches an SDK through our own code."""
    module = tmp_path / "sneaky.py"
    module.write_text("from jobclusters.tracking.control_store import TableControlStore\n")
    reached = {name for names in imported_closure([module]).values() for name in names}
    assert "azure.data.tables" in reached
