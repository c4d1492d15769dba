"""The Function App package ships the app, never devhost or the repository's tooling.

`.funcignore` is what `func publish` and zip deploy leave out. Every top-level folder must be either shipped
on purpose (listed here) or ignored there, so adding a folder is a conscious choice.
"""

from __future__ import annotations

import fnmatch
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
SHIPPED_FOLDERS = frozenset({"activities", "jobclusters", "localbus", "orchestrators", "triggers"})
SHIPPED_FILES = frozenset({"function_app.py", "host.json", "requirements.txt"})


def _patterns() -> list[str]:
    lines = (ROOT / ".funcignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def _ignored(name: str) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern.strip("/")) for pattern in _patterns())


def test_funcignore_uses_only_plain_patterns_this_test_understands() -> None:
    assert not [p for p in _patterns() if p.startswith("!") or "/" in p.strip("/") or "**" in p]


def test_every_top_level_folder_is_shipped_on_purpose_or_ignored() -> None:
    folders = {entry.name for entry in os.scandir(ROOT) if entry.is_dir()}
    undecided = sorted(f for f in folders if f not in SHIPPED_FOLDERS and not _ignored(f))
    assert undecided == [], f"add each to SHIPPED_FOLDERS or .funcignore: {undecided}"


def test_the_app_is_shipped_and_devhost_and_tooling_are_not() -> None:
    assert not [name for name in SHIPPED_FOLDERS | SHIPPED_FILES if _ignored(name)]
    assert all((ROOT / name).exists() for name in SHIPPED_FOLDERS | SHIPPED_FILES)
    for name in ("devhost", "tests", "bench", "docs", "examples", ".state", "node_modules", ".venv"):
        assert _ignored(name), name


def test_the_app_imports_without_devhost() -> None:
    blocker = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'devhost':\n"
        "            raise ImportError('devhost is not in the package: ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import function_app\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", blocker], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
