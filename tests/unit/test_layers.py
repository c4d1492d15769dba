"""The layers' import rules (docs/architecture.md), read from source: any import counts, including one
inside a function body (the factory imports implementations lazily) or under `if TYPE_CHECKING:`.

- jobclusters/ (the library) never imports an entry point: function_app, orchestrators, activities, triggers;
- devhost/ (a generic local Functions host) imports nothing of the app;
- the app's runtime code imports nothing of devhost, except the local launcher, which starts devhost;
- localbus/ (the local Service Bus transport both use) imports neither devhost nor the app.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.import_graph import PROJECT, imports, module_name

ENTRY_POINTS = ("function_app", "orchestrators", "activities", "triggers")
APP = ("jobclusters", *ENTRY_POINTS)
MAY_IMPORT_DEVHOST = {
    "jobclusters/client/launcher.py": "starts and stops the local host",
}


def _within(name: str, roots: tuple[str, ...]) -> bool:
    return any(name == root or name.startswith(root + ".") for root in roots)


def _sources(root: Path, top: str) -> list[Path]:
    single = root / f"{top}.py"
    return [single] if single.exists() else sorted((root / top).rglob("*.py"))


def layer_violations(root: Path = PROJECT) -> list[str]:
    found: list[str] = []

    def check(top: str, forbidden: tuple[str, ...], allowed: dict[str, str] | None = None) -> None:
        for path in _sources(root, top):
            relative = path.relative_to(root).as_posix()
            if allowed and relative in allowed:
                continue
            for name in sorted(imports(path, root=root, at_import_time_only=False)):
                if _within(name, forbidden) and not _within(name, (module_name(path, root),)):
                    found.append(f"{relative} imports {name}")

    check("jobclusters", ENTRY_POINTS)
    check("devhost", APP)
    for top in APP:
        check(top, ("devhost",), MAY_IMPORT_DEVHOST)
    check("localbus", ("devhost", *APP))
    return found


def test_the_project_keeps_its_layers() -> None:
    assert len(_sources(PROJECT, "jobclusters")) > 50 and len(_sources(PROJECT, "devhost")) > 20
    assert len(_sources(PROJECT, "localbus")) >= 2
    assert layer_violations() == []


def test_every_allowed_devhost_import_exists() -> None:
    """An exception outlives its reason silently unless the test notices it is no longer needed."""
    for relative in MAY_IMPORT_DEVHOST:
        path = PROJECT / relative
        assert any(_within(n, ("devhost",)) for n in imports(path, at_import_time_only=False)), relative


def _write(root: Path, relative: str, source: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source)


@pytest.mark.parametrize(
    ("relative", "source", "violation"),
    [
        (
            "jobclusters/services/factory.py",
            "def build():\n    from activities.control_store import TableControlStore\n",
            "jobclusters/services/factory.py imports activities.control_store",
        ),
        (
            "jobclusters/commands/demo.py",
            "import triggers.storage\n",
            "jobclusters/commands/demo.py imports triggers.storage",
        ),
        (
            "jobclusters/x.py",
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from orchestrators import run_job\n",
            "jobclusters/x.py imports orchestrators",
        ),
        ("jobclusters/y.py", "import function_app\n", "jobclusters/y.py imports function_app"),
        (
            "devhost/engine/x.py",
            "from jobclusters.settings import Settings\n",
            "devhost/engine/x.py imports jobclusters.settings",
        ),
        ("devhost/z.py", "async def f():\n    import triggers.blob\n", "devhost/z.py imports triggers.blob"),
        (
            "activities/run_events.py",
            "def publisher():\n    from devhost.triggers.outputs import prepare_outputs\n",
            "activities/run_events.py imports devhost.triggers.outputs",
        ),
        (
            "jobclusters/client/api.py",
            "from devhost.ports import free_port\n",
            "jobclusters/client/api.py imports devhost.ports",
        ),
        ("function_app.py", "import devhost\n", "function_app.py imports devhost"),
        ("localbus/store.py", "import devhost.serve\n", "localbus/store.py imports devhost.serve"),
        (
            "localbus/config.py",
            "from jobclusters.settings import Settings\n",
            "localbus/config.py imports jobclusters.settings",
        ),
        (
            "jobclusters/services/__init__.py",
            "from ...triggers import blob\n",
            "jobclusters/services/__init__.py imports triggers",
        ),
    ],
)
def test_the_check_catches_each_kind_of_violation(
    tmp_path: Path, relative: str, source: str, violation: str
) -> None:
    _write(tmp_path, relative, source)
    assert violation in layer_violations(tmp_path)


def test_the_check_lets_the_launcher_start_devhost_and_jobclusters_import_itself(tmp_path: Path) -> None:
    _write(tmp_path, "jobclusters/client/launcher.py", "from devhost.ports import free_port\n")
    _write(tmp_path, "jobclusters/services/factory.py", "from jobclusters.settings import Settings\n")
    _write(tmp_path, "devhost/cli.py", "from devhost.serve import serve\nimport azure.functions\n")
    _write(tmp_path, "triggers/blob.py", "from jobclusters.services import factory\n")
    _write(tmp_path, "jobclusters/services/local_events.py", "from localbus.store import LocalServiceBus\n")
    _write(tmp_path, "devhost/triggers/outputs.py", "from localbus import LocalServiceBus\n")
    assert layer_violations(tmp_path) == []
