"""Fixtures shared by every test folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from devhost.azurite import AzuriteProcess, start_azurite

PROJECT_DIR = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def azurite() -> Iterator[AzuriteProcess]:
    """A private in-memory Azurite on free loopback ports, for the whole test session."""
    with start_azurite(None, project_dir=PROJECT_DIR) as proc:
        yield proc


@pytest.fixture(scope="session")
def storage_connection(azurite: AzuriteProcess) -> str:
    return azurite.connection_string
