"""Debian's Chromium driven by Playwright from PyPI: no browser download, no network, a fresh profile.

The browser tests and bench/ui.py share this launch so both run the way CI does (root, headless).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import BrowserContext, sync_playwright

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str | None:
    return CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")


@contextmanager
def chromium_context() -> Iterator[BrowserContext]:
    executable = chromium_path()
    if executable is None:
        raise RuntimeError(
            "chromium is not installed: `make setup` installs it (apt-get install -y chromium)"
        )
    with tempfile.TemporaryDirectory(prefix="jobclusters-chromium-") as profile, sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            profile,
            executable_path=executable,
            headless=True,
            args=ARGS,
            viewport={"width": 1400, "height": 1000},
        )
        try:
            yield context
        finally:
            context.close()
