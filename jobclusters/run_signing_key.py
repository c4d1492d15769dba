"""The run-signing key (see `run_admission`): the app setting `JOBCLUSTERS_RUN_SIGNING_KEY`, or, in local
mode without it, a random key generated once into the state folder, so a fresh clone needs no setup while
triggers and activities of every local host process of that folder agree on it."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from jobclusters.settings import Settings

SETTING = "JOBCLUSTERS_RUN_SIGNING_KEY"
KEY_FILE = "run-signing.key"


class MissingSigningKey(RuntimeError):
    """On Azure the key must be an app setting: a key generated per instance would not match."""


def run_signing_key(settings: Settings) -> bytes:
    if settings.run_signing_key is not None and settings.run_signing_key.get_secret_value():
        return settings.run_signing_key.get_secret_value().encode()
    if settings.mode == "azure":
        raise MissingSigningKey(
            f"{SETTING} is not set: set it to a long random value (a Key Vault reference)"
        )
    return local_key(Path(settings.state_dir))


def local_key(state_dir: Path) -> bytes:
    """Created with a link from a private temporary file, so concurrent first users all read one key."""
    path = state_dir / KEY_FILE
    if not path.exists():
        state_dir.mkdir(parents=True, exist_ok=True)
        tmp = state_dir / f".{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32))
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
        tmp.unlink()
    return path.read_text().strip().encode()
