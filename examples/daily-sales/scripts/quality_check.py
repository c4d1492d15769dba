"""Batch task: the Spark totals add up to the cleaned input, no amount is negative, and enough categories
are present. Exit code 1 with every failed check.

    python3 quality_check.py BATCH_LAKE_DIR MIN_CATEGORIES
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path


def main() -> int:
    lake, min_categories = Path(sys.argv[1]), int(sys.argv[2])
    cleaned_total = 0.0
    for path in sorted((lake / "cleaned").glob("cleaned-*.csv")):
        with open(path, newline="", encoding="utf-8") as fh:
            cleaned_total += sum(float(r["amount"]) for r in csv.DictReader(fh) if r["status"] == "active")
    parts = sorted((lake / "aggregated").glob("part-*.csv"))
    if not parts:
        print(f"{lake / 'aggregated'}: no Spark output", file=sys.stderr)
        return 1
    with open(parts[0], newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    failures = []
    total = sum(float(r["total_amount"]) for r in rows)
    if abs(total - cleaned_total) > 0.01 * max(1, len(rows)):
        failures.append(f"aggregated total {total:.2f} != cleaned active total {cleaned_total:.2f}")
    if any(float(r["total_amount"]) < 0 for r in rows):
        failures.append("negative totals")
    categories = {r["category"] for r in rows}
    if len(categories) < min_categories:
        failures.append(f"{len(categories)} categories < {min_categories}")
    for failure in failures:
        print(failure, file=sys.stderr)
    if failures:
        return 1
    print(f"quality ok: {len(rows)} rows, {len(categories)} categories, total {total:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
