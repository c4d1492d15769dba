"""Resource and output files for the local Batch executor, with Batch's path rules.

Resource files land relative to the task working directory. Output file patterns are resolved against the
working directory too (so `../stdout.txt` is the task's stdout, as on Batch). A pattern without wildcards
uploads one file to exactly `path`; with wildcards, `path` is a virtual folder the matches go under.
"""

from __future__ import annotations

import glob
import os
from pathlib import Path

from jobclusters.services.batch import OutputFile, ResourceFile
from jobclusters.services.blob_io import BlobIO

_WILDCARDS = set("*?[")
DEFAULT_FILE_MODE = "0770"


class FileTransferError(RuntimeError):
    """A resource or output file could not be transferred; `code` mirrors Batch's failure codes."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _inside(base: Path, relative: str, what: str) -> Path:
    target = (base / relative).resolve()
    if base.resolve() not in (target, *target.parents):
        raise FileTransferError(
            "ResourceFileDownloadFailed", f"{what} {relative!r} leaves the task directory"
        )
    return target


def fetch_resource_files(files: list[ResourceFile], working_dir: Path, blob: BlobIO) -> None:
    """Batch on Linux gives every downloaded file `fileMode`, else 0770 (so a staged script runs)."""
    for i, rf in enumerate(files):
        try:
            if rf.http_url is not None:
                assert rf.file_path is not None
                target = _inside(working_dir, rf.file_path, "filePath")
                blob.download_url(rf.http_url, target)
                written = [target]
            else:
                url = rf.storage_container_url or blob.container_url(rf.auto_storage_container_name or "")
                dest = _inside(working_dir, rf.file_path or ".", "filePath")
                written = blob.download_container(url, rf.blob_prefix, dest)
        except FileTransferError:
            raise
        except Exception as exc:
            source = rf.http_url or rf.storage_container_url or rf.auto_storage_container_name
            raise FileTransferError(
                "ResourceFileDownloadFailed", f"resourceFiles[{i}] ({source}): {type(exc).__name__}: {exc}"
            ) from exc
        for path in written:
            os.chmod(path, int(rf.file_mode or DEFAULT_FILE_MODE, 8))


def matches(pattern: str, working_dir: Path) -> list[tuple[Path, str]]:
    """Files matching a Batch file pattern, each with the blob name suffix it uploads under."""
    if not _WILDCARDS & set(pattern):
        path = (working_dir / pattern).resolve()
        return [(path, "")] if path.is_file() else []
    parts = Path(pattern).parts
    fixed = [p for p in parts[: next(i for i, p in enumerate(parts) if _WILDCARDS & set(p))]]
    base = (working_dir.joinpath(*fixed)).resolve()
    out = []
    for name in sorted(glob.glob(str(working_dir / pattern), recursive=True)):
        path = Path(name).resolve()
        if path.is_file():
            out.append((path, path.relative_to(base).as_posix()))
    return out


def upload_output_files(
    files: list[OutputFile], working_dir: Path, *, succeeded: bool, blob: BlobIO
) -> list[str]:
    """Upload what each output file's condition allows, each on its own: one that fails (a container name
    Azure rejects, say) never keeps the others, the task's logs among them, from being uploaded, as on
    Batch. Returns one message per output file that failed, naming it, so the task can say what failed."""
    failures: list[str] = []
    for i, of in enumerate(files):
        condition = of.upload_options.upload_condition
        if (condition == "taskSuccess" and not succeeded) or (condition == "taskFailure" and succeeded):
            continue
        dest = of.destination.container
        errors: list[str] = []
        for path, suffix in matches(of.file_pattern, working_dir):
            if suffix:
                name = "/".join(p for p in ((dest.path or "").strip("/"), suffix) if p)
            else:
                name = dest.path or path.name
            try:
                blob.upload_file(dest.container_url, name, path)
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {_first_line(exc)}")
        if errors:
            failures.append(f"outputFiles[{i}] ({of.file_pattern}) upload failed: {errors[0]}")
    return failures


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [""])[0][:300]
