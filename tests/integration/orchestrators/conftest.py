from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.orchestrators.harness import AppEnv, close_services, open_app, restore_environ


@pytest.fixture
def app_env(tmp_path: Path, storage_connection: str) -> Iterator[AppEnv]:
    saved = dict(os.environ)
    env = open_app(tmp_path, storage_connection)
    try:
        yield env
    finally:
        close_services(env)
        restore_environ(saved)
