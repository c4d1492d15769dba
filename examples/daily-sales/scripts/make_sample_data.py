"""Sample daily sales files for the demo: one CSV per day, with a few rows a cleaning step must drop
(malformed numbers, duplicates, test orders), and the `_READY` manifest that tells the pipeline the
batch is complete.

    python make_sample_data.py DEST_DIR [--days 4] [--rows 400] [--seed 7]
"""

from __future__ import annotations

import argparse
import csv
import json
import random
from datetime import date, timedelta
from pathlib import Path

HEADER = ["order_id", "order_date", "product_id", "region", "quantity", "unit_price", "status"]
PRODUCTS = {
    "P001": 59.0,
    "P002": 19.5,
    "P003": 34.0,
    "P004": 42.0,
    "P005": 25.0,
    "P006": 3.5,
    "P007": 15.0,
    "P008": 89.0,
}
REGIONS = ["north", "south", "east", "west"]


def generate(dest: Path, *, days: int = 4, rows: int = 400, seed: int = 7, start: date | None = None) -> dict:
    """Writes the files and the manifest; returns the manifest."""
    rng = random.Random(seed)
    start = start or date(2024, 3, 1)
    dest.mkdir(parents=True, exist_ok=True)
    files = []
    for offset in range(days):
        day = start + timedelta(days=offset)
        name = f"sales-{day.isoformat()}.csv"
        with open(dest / name, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(HEADER)
            for i in range(rows):
                product = rng.choice(list(PRODUCTS))
                row = [
                    f"{day:%Y%m%d}-{i:05d}",
                    day.isoformat(),
                    product,
                    rng.choice(REGIONS),
                    str(rng.randint(1, 5)),
                    f"{PRODUCTS[product]:.2f}",
                    "cancelled" if rng.random() < 0.05 else "active",
                ]
                writer.writerow(row)
                if i % 97 == 0:
                    writer.writerow(row)  # a duplicate the cleaning step drops
            writer.writerow([f"{day:%Y%m%d}-bad", day.isoformat(), "P001", "north", "two", "59.00", "active"])
            writer.writerow([f"{day:%Y%m%d}-test", day.isoformat(), "P002", "south", "1", "19.50", "test"])
        files.append(name)
    manifest = {"files": files, "days": days, "rows_per_day": rows}
    (dest / "_READY").write_text(json.dumps(manifest), encoding="utf-8")
    return manifest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dest", type=Path)
    parser.add_argument("--days", type=int, default=4)
    parser.add_argument("--rows", type=int, default=400)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    print(json.dumps(generate(args.dest, days=args.days, rows=args.rows, seed=args.seed)))


if __name__ == "__main__":
    main()
