"""Orchestrators are replayed generators: nothing they import (directly, or through our own modules) may be
a cloud SDK or an HTTP client, so no I/O can sneak into a replay."""

from __future__ import annotations

import ast
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[3]
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
FIRST_PARTY = ("orchestrators", "jobclusters", "activities", "triggers", "devhost")


def _module_file(name: str) -> Path | None:
    base = PROJECT.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def _import_time_nodes(body: list[ast.stmt]) -> list[ast.stmt]:
    """Statements that run when the module is imported: not function bodies, not `if TYPE_CHECKING:`."""
    found: list[ast.stmt] = []
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        found.append(node)
        if isinstance(node, ast.If | ast.Try | ast.With | ast.ClassDef):
            for block in ("body", "orelse", "finalbody"):
                found.extend(_import_time_nodes(getattr(node, block, [])))
            for handler in getattr(node, "handlers", []):
                found.extend(_import_time_nodes(handler.body))
    return found


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in _import_time_nodes(ast.parse(path.read_text(), str(path)).body):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def imported_closure(start: list[Path]) -> dict[str, set[str]]:
    """Every module name imported by `start` and by the first-party modules they reach, by importer."""
    seen: dict[str, set[str]] = {}
    stack = [(str(p), p) for p in start]
    while stack:
        label, path = stack.pop()
        if label in seen:
            continue
        seen[label] = _imports(path)
        for name in seen[label]:
            if name.split(".")[0] in FIRST_PARTY:
                target = _module_file(name)
                if target is not None:
                    stack.append((str(target.relative_to(PROJECT)), target))
    return seen


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
