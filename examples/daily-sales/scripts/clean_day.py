"""Batch fan-out task, one per daily file: drop malformed, duplicate and test rows, compute amounts.

    python3 clean_day.py INPUT IN_DIR OUT_DIR LAKE_DIR
INPUT is `container/name` of this task's file (the fan-out input); the file itself was downloaded under
IN_DIR (the container's blobs keep their names). The cleaned file goes to OUT_DIR (uploaded to blob storage
by the task's output files) and to LAKE_DIR, where the Spark step reads it.
"""

from __future__ import annotations

import csv
import shutil
import sys
from pathlib import Path

OUT_HEADER = ["order_id", "order_date", "product_id", "region", "quantity", "amount", "status"]


def clean(source: Path, target: Path) -> tuple[int, int]:
    kept = dropped = 0
    seen: set[str] = set()
    target.parent.mkdir(parents=True, exist_ok=True)
    with (
        open(source, newline="", encoding="utf-8") as fh,
        open(target, "w", newline="", encoding="utf-8") as out,
    ):
        writer = csv.writer(out)
        writer.writerow(OUT_HEADER)
        for row in csv.DictReader(fh):
            try:
                quantity = int(row["quantity"])
                price = float(row["unit_price"])
            except (TypeError, ValueError):
                dropped += 1
                continue
            if row["order_id"] in seen or row["status"] == "test" or quantity <= 0 or price < 0:
                dropped += 1
                continue
            seen.add(row["order_id"])
            writer.writerow(
                [
                    row["order_id"],
                    row["order_date"],
                    row["product_id"],
                    row["region"],
                    quantity,
                    f"{quantity * price:.2f}",
                    row["status"],
                ]
            )
            kept += 1
    return kept, dropped


def main() -> int:
    item, in_dir, out_dir, lake_dir = sys.argv[1:5]
    name = item.split("/", 1)[1] if "/" in item else item
    source = Path(in_dir) / name
    if not source.is_file():
        print(f"{source}: the input file was not downloaded", file=sys.stderr)
        return 1
    target = Path(out_dir) / f"cleaned-{source.name}"
    kept, dropped = clean(source, target)
    lake = Path(lake_dir)
    lake.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(target, lake / target.name)
    print(f"{source.name}: kept {kept} rows, dropped {dropped}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
