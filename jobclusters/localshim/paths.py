"""Cloud paths of a job, mapped onto a local workspace folder.

`dbfs:/a/b` and `/dbfs/a/b` -> `<workspace>/dbfs/a/b`; `abfss://c@acct.dfs.core.windows.net/p` (and
`wasbs://c@acct.blob.core.windows.net/p`) -> `<workspace>/abfss/acct/c/p`; `file:` URIs -> the local path;
a relative path -> under the base dir (the job file's folder). The same mapping serves the service (to find
the job's files) and the job (Spark reads and writes, dbutils.fs), so both sides agree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

_ADLS = re.compile(r"^(abfss?|wasbs?)://(?P<container>[^@/]+)@(?P<account>[^./]+)\.[^/]+(?P<path>/.*)?$")
CLOUD_PREFIXES = ("dbfs:", "abfs://", "abfss://", "wasb://", "wasbs://", "file:")


@dataclass(frozen=True)
class AdlsLocation:
    account: str
    container: str
    path: str


def parse_adls(uri: str) -> AdlsLocation | None:
    match = _ADLS.match(uri)
    if match is None:
        return None
    return AdlsLocation(match["account"], match["container"], (match["path"] or "/").lstrip("/"))


def is_cloud_path(value: str) -> bool:
    return value.startswith(CLOUD_PREFIXES) or value.startswith("/dbfs/")


@dataclass(frozen=True)
class PathMapper:
    workspace_dir: Path
    base_dir: Path

    def map(self, value: str) -> Path:
        if value.startswith("dbfs:"):
            return self.workspace_dir / "dbfs" / value[len("dbfs:") :].lstrip("/")
        if value.startswith("/dbfs/"):
            return self.workspace_dir / "dbfs" / value[len("/dbfs/") :]
        adls = parse_adls(value)
        if adls is not None:
            return self.workspace_dir / "abfss" / adls.account / adls.container / adls.path
        if value.startswith("file:"):
            return Path(unquote(urlparse(value).path))
        path = Path(value)
        return path if path.is_absolute() else self.base_dir / path

    def map_value(self, value: str) -> str:
        """Cloud paths become local ones; anything else (plain words, numbers, local paths) stays as given."""
        return str(self.map(value)) if is_cloud_path(value) else value

    def find_file(self, value: str, suffixes: tuple[str, ...] = ("",)) -> Path | None:
        """A job file: mapped, else (workspace paths like `/Shared/etl`) under `<workspace>/workspace`."""
        candidates = [self.map(value)]
        if value.startswith("/") and not value.startswith("/dbfs/"):
            candidates.append(self.workspace_dir / "workspace" / value.lstrip("/"))
        for candidate in candidates:
            for suffix in suffixes:
                path = Path(f"{candidate}{suffix}") if suffix else candidate
                if path.is_file():
                    return path
        return None
