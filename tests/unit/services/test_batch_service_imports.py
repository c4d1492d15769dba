"""The Batch modules form no import cycle and do not read the mode: the factory picks the implementation."""

from __future__ import annotations

import ast
from pathlib import Path

SERVICES = Path(__file__).resolve().parents[3] / "jobclusters" / "services"
BATCH_MODULES = [
    SERVICES / "batch.py",
    SERVICES / "azure_batch.py",
    *sorted((SERVICES / "local_batch").glob("*.py")),
]


def _module_name(path: Path) -> str:
    parts = path.relative_to(SERVICES.parents[1]).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every `jobclusters.*` module the file imports, at the top or inside functions."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("jobclusters"):
            out.add(node.module)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("jobclusters"))
    return out


def test_the_batch_modules_import_each_other_without_a_cycle():
    names = {_module_name(p): p for p in BATCH_MODULES}
    graph = {name: {m for m in _imports(path) if m in names and m != name} for name, path in names.items()}
    visiting: list[str] = []
    done: set[str] = set()

    def visit(name: str) -> None:
        assert name not in visiting, f"import cycle: {' -> '.join([*visiting, name])}"
        if name in done:
            return
        visiting.append(name)
        for dep in sorted(graph[name]):
            visit(dep)
        visiting.pop()
        done.add(name)

    for name in sorted(graph):
        visit(name)
    assert graph["jobclusters.services.batch"] == set(), "the Protocol module imports no implementation"


def test_no_batch_module_checks_the_mode():
    for path in BATCH_MODULES:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr == "mode":
                assert not (isinstance(node.value, ast.Name) and "settings" in node.value.id.lower()), (
                    f"{path.name}:{node.lineno} reads the mode; the factory decides"
                )
            if isinstance(node, ast.Constant) and node.value in ("local", "azure"):
                raise AssertionError(f"{path.name}:{node.lineno} compares with the mode {node.value!r}")
