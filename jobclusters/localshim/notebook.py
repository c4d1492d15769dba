"""Databricks `.py` source notebooks: cells split on `# COMMAND ----------`, `# MAGIC` cells understood.

`%md` cells are skipped, `%sql` runs through `spark.sql`, `%python` is Python, `%sh` runs in a shell,
`%run ./other` runs another notebook in the same globals, `%pip` is left to the task's `libraries`.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HEADER = "# Databricks notebook source"
SEPARATOR = "# COMMAND ----------"
MAGIC = "# MAGIC"


@dataclass(frozen=True)
class Cell:
    index: int
    kind: str
    source: str


def _unmagic(line: str) -> str:
    rest = line[len(MAGIC) :]
    return rest[1:] if rest.startswith(" ") else rest


def parse_notebook(text: str) -> list[Cell]:
    lines = text.splitlines()
    if lines and lines[0].strip() == HEADER:
        lines = lines[1:]
    chunks: list[list[str]] = [[]]
    for line in lines:
        if line.strip() == SEPARATOR:
            chunks.append([])
        else:
            chunks[-1].append(line)
    cells = []
    for index, chunk in enumerate(chunks, start=1):
        body = [line for line in chunk if line.strip()]
        if not body:
            continue
        if all(line.startswith(MAGIC) for line in body):
            magic_lines = [_unmagic(line) for line in chunk if line.startswith(MAGIC)]
            first = magic_lines[0].strip()
            kind = first.split()[0] if first.startswith("%") else "%python"
            rest = (
                magic_lines if not first.startswith("%") else [first[len(kind) :].strip(), *magic_lines[1:]]
            )
            cells.append(Cell(index, kind, "\n".join(rest).strip()))
        else:
            cells.append(Cell(index, "python", "\n".join(chunk)))
    return cells


def run_notebook(path: Path, namespace: dict[str, Any]) -> None:
    for cell in parse_notebook(path.read_text()):
        where = f"{path} (cell {cell.index})"
        if cell.kind in ("python", "%python"):
            exec(compile(cell.source, where, "exec"), namespace)
        elif cell.kind == "%md":
            continue
        elif cell.kind == "%sql":
            for statement in (s.strip() for s in cell.source.split(";")):
                if statement:
                    namespace["display"](namespace["spark"].sql(statement))
        elif cell.kind == "%sh":
            subprocess.run(cell.source, shell=True, check=True, cwd=path.parent)
        elif cell.kind == "%run":
            target = cell.source.split()[0]
            other = (path.parent / target).resolve()
            other = other if other.is_file() else other.with_suffix(".py")
            run_notebook(other, namespace)
        elif cell.kind == "%pip":
            print(f"{where}: %pip skipped locally; list the package in the task's libraries", file=sys.stderr)
        else:
            raise ValueError(f"{where}: magic {cell.kind} is not supported on the local cluster")
