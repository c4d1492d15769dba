from __future__ import annotations

from pathlib import Path

import pytest

SEED_DIR = Path(__file__).resolve().parents[3] / "examples" / "seed"
NATIVE_DIR = Path(__file__).resolve().parents[3] / "examples" / "native"


@pytest.fixture
def seed_dir() -> Path:
    return SEED_DIR
