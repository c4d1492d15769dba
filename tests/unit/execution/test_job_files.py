"""Staging a job's folder for its Batch tasks: what is taken, what is skipped, the limits, the digest."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobclusters.execution.batch_mapping import task_spec
from jobclusters.execution.job_files import (
    CONTAINER_PREFIX,
    JobFilesError,
    container_name,
    resource_file,
    snapshot,
    stage,
)
from jobclusters.spec.model import CommandPayload


class MemoryStore:
    def __init__(self) -> None:
        self.containers: dict[str, dict[str, bytes]] = {}
        self.uploads = 0

    def is_complete(self, container: str) -> bool:
        return container in self.containers

    def upload(self, container: str, files: tuple[tuple[str, Path], ...]) -> None:
        self.uploads += 1
        self.containers[container] = {name: path.read_bytes() for name, path in files}


def write(folder: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_the_folder_is_staged_with_its_layout_and_without_state_caches_or_vcs(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "job.yaml": "name: j",
            "fail.py": "raise SystemExit(3)",
            "scripts/x.py": "print(1)",
            ".git/HEAD": "ref",
            ".state/db": "x",
            "scripts/__pycache__/x.pyc": "x",
            "node_modules/a/index.js": "x",
        },
    )
    store = MemoryStore()
    container = stage(str(tmp_path), store)
    assert container is not None and container.startswith(CONTAINER_PREFIX) and len(container) <= 63
    assert store.containers[container] == {
        "fail.py": b"raise SystemExit(3)",
        "job.yaml": b"name: j",
        "scripts/x.py": b"print(1)",
    }


def test_the_same_content_is_uploaded_once_and_a_change_makes_a_new_container(tmp_path: Path) -> None:
    write(tmp_path, {"a.py": "print(1)"})
    store = MemoryStore()
    first = stage(str(tmp_path), store)
    assert stage(str(tmp_path), store) == first and store.uploads == 1
    write(tmp_path, {"a.py": "print(2)"})
    second = stage(str(tmp_path), store)
    assert second != first and store.uploads == 2
    (tmp_path / "a.py").rename(tmp_path / "b.py")
    assert snapshot(tmp_path).container not in (first, second)


def test_no_folder_on_this_host_stages_nothing(tmp_path: Path) -> None:
    store = MemoryStore()
    assert stage(None, store) is None
    assert stage(str(tmp_path / "elsewhere"), store) is None
    assert stage(str(tmp_path), store) is None  # empty
    assert store.uploads == 0


def test_a_folder_over_the_limits_is_refused_naming_the_limit(tmp_path: Path) -> None:
    write(tmp_path, {f"f{i}.txt": "x" for i in range(4)})
    with pytest.raises(JobFilesError, match="more than 3 files"):
        snapshot(tmp_path, max_files=3)
    (tmp_path / "big.bin").write_bytes(b"x" * (2 * 1024 * 1024 + 1))
    with pytest.raises(JobFilesError, match="more than 2 MiB"):
        snapshot(tmp_path, max_bytes=2 * 1024 * 1024)


def test_every_task_gets_the_job_files_first_and_its_command_line_untouched() -> None:
    command = "echo start && python3 fail.py | tee out.txt; exit $(cat code) > /dev/null"
    payload = CommandPayload.model_validate(
        {
            "command_line": command,
            "resource_files": [{"auto_storage_container_name": "incoming", "file_path": "in"}],
        }
    )
    name = container_name("ab" * 32)
    spec = task_spec(payload, "t-0", 0, None, job_files=name)
    assert spec.command_line == command
    assert spec.resource_files[0] == resource_file(name)
    assert spec.resource_files[0].file_path is None and spec.resource_files[0].blob_prefix is None
    assert spec.resource_files[1].auto_storage_container_name == "incoming"
    assert task_spec(payload, "t-0", 0, None).resource_files[0].auto_storage_container_name == "incoming"


def test_the_hosts_state_folder_inside_the_job_folder_is_not_staged(tmp_path: Path) -> None:
    write(tmp_path, {"a.py": "print(1)", "state/pools/p/nodes/n/wd/a.py": "print(1)"})
    staged = snapshot(tmp_path, exclude=(tmp_path / "state",))
    assert [name for name, _ in staged.files] == ["a.py"]
