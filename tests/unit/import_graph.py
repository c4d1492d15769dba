"""Reading a project's imports from source (no import runs): what the import-rule tests walk."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]
FIRST_PARTY = ("orchestrators", "jobclusters", "activities", "triggers", "devhost", "function_app")


def module_name(path: Path, root: Path = PROJECT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def module_file(name: str, root: Path = PROJECT) -> Path | None:
    base = root.joinpath(*name.split("."))
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


def _absolute(node: ast.ImportFrom, path: Path, root: Path) -> str | None:
    """`from .x import y` in `pkg/mod.py` is `pkg.x`; outside `root` a relative import is not resolved."""
    if node.level == 0:
        return node.module
    try:
        package = module_name(path, root).split(".")
    except ValueError:
        return None
    if path.name != "__init__.py":
        package = package[:-1]
    base = package[: len(package) - (node.level - 1)] if node.level > 1 else package
    return ".".join([*base, node.module] if node.module else base) or None


def imports(path: Path, *, root: Path = PROJECT, at_import_time_only: bool = True) -> set[str]:
    """Module names `path` imports (`from m import n` gives `m` and `m.n`). With `at_import_time_only`
    False, imports inside functions and `if TYPE_CHECKING:` count too."""
    tree = ast.parse(path.read_text(), str(path))
    nodes: Iterator[ast.AST] | list[ast.stmt] = (
        _import_time_nodes(tree.body) if at_import_time_only else ast.walk(tree)
    )
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = _absolute(node, path, root)
            if module:
                found.add(module)
                found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def imported_closure(start: list[Path], root: Path = PROJECT) -> dict[str, set[str]]:
    """Every module name imported at import time by `start` and by the first-party modules they reach,
    by importer."""
    seen: dict[str, set[str]] = {}
    stack = [(str(p), p) for p in start]
    while stack:
        label, path = stack.pop()
        if label in seen:
            continue
        seen[label] = imports(path, root=root)
        for name in seen[label]:
            if name.split(".")[0] in FIRST_PARTY:
                target = module_file(name, root)
                if target is not None:
                    stack.append((str(target.relative_to(root)), target))
    return seen
