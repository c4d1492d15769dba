"""Batch task: the batch's `_READY` manifest names CSV files that all arrived with the expected header.

    python3 validate.py BATCH_DIR        (the batch folder, downloaded as resource files)
Exit code 1 with the reason when anything is missing or malformed.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

HEADER = ["order_id", "order_date", "product_id", "region", "quantity", "unit_price", "status"]


def problems(folder: Path) -> list[str]:
    manifest_path = folder / "_READY"
    if not manifest_path.is_file():
        return [f"{manifest_path}: the batch manifest is missing"]
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except ValueError as exc:
        return [f"{manifest_path}: not JSON ({exc})"]
    files = manifest.get("files")
    if not isinstance(files, list) or not files:
        return [f"{manifest_path}: $.files must list the batch's CSV files"]
    found = []
    for name in files:
        path = folder / str(name)
        if not path.is_file():
            found.append(f"{name}: listed in the manifest but not uploaded")
            continue
        with open(path, newline="", encoding="utf-8") as fh:
            header = next(csv.reader(fh), [])
        if header != HEADER:
            found.append(f"{name}: header {header} != expected {HEADER}")
    return found


def main() -> int:
    folder = Path(sys.argv[1])
    found = problems(folder)
    for problem in found:
        print(problem, file=sys.stderr)
    if found:
        print(f"validation failed: {len(found)} problem(s)", file=sys.stderr)
        return 1
    print(f"batch {folder} is complete and well-formed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
