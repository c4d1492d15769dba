"""The job's own files in every Batch task's working directory, as Batch itself provides them.

A command such as `python3 scripts/x.py` means the script beside the job definition. Batch has no such
folder on its nodes: files reach a task as resource files. So the folder of the job definition
(`base_dir`) is uploaded once per content to a container named by its digest, and every Batch task of the
job gets one resource file, `autoStorageContainerName: <that container>`, which Batch downloads into the
task's working directory keeping the relative paths. The same mapping runs on the embedded default (the
local executor downloads from Azurite) and on Azure (the Batch account's auto-storage account). The
command line itself is never rewritten: it runs under `/bin/sh -c` exactly as written.

The folder is bounded: version-control, state, cache and dependency folders are skipped, and a folder
over the limits fails the task with a message naming the limit rather than uploading a data lake.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from jobclusters.services.batch import ResourceFile

CONTAINER_PREFIX = "jobclusters-files-"
SKIPPED_FOLDERS = frozenset({".git", ".state", "__pycache__", "node_modules", ".venv", ".mypy_cache"})
MAX_FILES = 1000
MAX_BYTES = 50 * 1024 * 1024


class JobFilesError(ValueError):
    """The job's folder cannot be staged (over a limit); the message names the limit and the way out."""


@dataclass(frozen=True)
class JobFiles:
    """The files of a job folder in a stable order, with the digest of their names and contents."""

    folder: Path
    files: tuple[tuple[str, Path], ...]
    digest: str
    total_bytes: int

    @property
    def container(self) -> str:
        return container_name(self.digest)


class JobFilesStore(Protocol):
    def is_complete(self, container: str) -> bool: ...

    def upload(self, container: str, files: tuple[tuple[str, Path], ...]) -> None:
        """Write every file under its relative name, then mark the container complete."""


def container_name(digest: str) -> str:
    """A valid container name (3-63 lowercase letters, digits, dashes) that changes with the content."""
    return CONTAINER_PREFIX + digest[:32]


def _walk(
    folder: Path, max_files: int, max_bytes: int, excluded: frozenset[Path]
) -> list[tuple[str, Path, int]]:
    found: list[tuple[str, Path, int]] = []
    total = 0
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(
            d for d in dirs if d not in SKIPPED_FOLDERS and (Path(root) / d).resolve() not in excluded
        )
        for name in sorted(names):
            path = Path(root) / name
            try:
                if not path.is_file():
                    continue
                size = path.stat().st_size
            except OSError:
                continue  # gone while walking: a file another process writes and removes
            total += size
            found.append((path.relative_to(folder).as_posix(), path, size))
            if len(found) > max_files:
                raise JobFilesError(
                    f"the job folder {folder} holds more than {max_files} files (the limit of files staged "
                    f"into every Batch task's working directory); move data to blob storage and name it "
                    f"in resource_files or fan_out"
                )
            if total > max_bytes:
                raise JobFilesError(
                    f"the job folder {folder} holds more than {max_bytes // (1024 * 1024)} MiB (the limit of "
                    f"files staged into every Batch task's working directory); move data to blob storage "
                    f"and name it in resource_files or fan_out"
                )
    return found


def snapshot(
    folder: Path,
    *,
    max_files: int = MAX_FILES,
    max_bytes: int = MAX_BYTES,
    exclude: tuple[Path, ...] = (),
) -> JobFiles:
    """Raises `JobFilesError` over a limit; skipped folders and `exclude` count for nothing."""
    digest = hashlib.sha256()
    kept: list[tuple[str, Path]] = []
    total = 0
    excluded = frozenset(p.resolve() for p in exclude)
    for relative, path, _ in _walk(folder, max_files, max_bytes, excluded):
        try:
            content = path.read_bytes()
        except OSError:
            continue
        digest.update(f"{relative}\0{len(content)}\0".encode())
        digest.update(content)
        kept.append((relative, path))
        total += len(content)
    return JobFiles(folder=folder, files=tuple(kept), digest=digest.hexdigest(), total_bytes=total)


def stage(base_dir: str | None, store: JobFilesStore, exclude: tuple[Path, ...] = ()) -> str | None:
    """The container holding the job's files, uploaded unless an earlier run uploaded the same content;
    None when there is no folder on this host to stage (a definition registered without one). `exclude`:
    the host's own state folder, should it sit inside the job's (local executors write task folders there)."""
    if not base_dir or not Path(base_dir).is_dir():
        return None
    files = snapshot(Path(base_dir), exclude=exclude)
    if not files.files:
        return None
    if not store.is_complete(files.container):
        store.upload(files.container, files.files)
    return files.container


def resource_file(container: str) -> ResourceFile:
    """Batch keeps each blob's name as its path under the working directory: the job folder's layout."""
    return ResourceFile(auto_storage_container_name=container)
