"""Fixtures for the conformance tests: one loaded copy of each conformance app."""

from __future__ import annotations

import pytest

from devhost.app_loader import LoadedApp, load_app
from tests.conformance.helpers import APPS


@pytest.fixture(scope="session")
def basic_app() -> LoadedApp:
    return load_app(APPS / "basic")
