"""Writes deterministic raw sales CSV files (the standard job's input) for a given as-of date.

python make_sample_data.py OUT_DIR [--as-of 2026-01-15] [--rows 400] [--files 2]
"""

from __future__ import annotations

import argparse
import csv
import random
from datetime import date, timedelta
from pathlib import Path

PRODUCTS = ("P-100", "P-200", "P-300", "P-400")
REGIONS = ("north", "south", "east", "west")
FIELDS = ("order_id", "order_date", "product_id", "region", "quantity", "revenue")


def generate(
    out_dir: Path, as_of: date, rows: int = 400, files: int = 2, seed: int = 7
) -> list[dict[str, object]]:
    """Write `files` CSVs with `rows` orders over the four days up to `as_of`; returns the rows written."""
    rng = random.Random(seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    orders: list[dict[str, object]] = []
    for i in range(rows):
        quantity = rng.randint(1, 20)
        orders.append(
            {
                "order_id": f"O-{i:06d}",
                "order_date": (as_of - timedelta(days=rng.randint(0, 3))).isoformat(),
                "product_id": rng.choice(PRODUCTS),
                "region": rng.choice(REGIONS),
                "quantity": quantity,
                "revenue": round(quantity * rng.uniform(2.5, 40.0), 2),
            }
        )
    for n in range(files):
        with open(out_dir / f"sales-{n}.csv", "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=FIELDS)
            writer.writeheader()
            writer.writerows(orders[n::files])
    return orders


def expected_totals(orders: list[dict[str, object]], as_of: date) -> dict[str, list[object]]:
    """What the job must compute, worked out without Spark: `product/region` -> [quantity, revenue, count]."""
    since = (as_of - timedelta(days=1)).isoformat()
    totals: dict[str, list[object]] = {}
    for order in orders:
        if str(order["order_date"]) < since:
            continue
        key = f"{order['product_id']}/{order['region']}"
        quantity, revenue, count = totals.get(key, [0, 0.0, 0])
        totals[key] = [
            int(quantity) + int(order["quantity"]),  # type: ignore[call-overload]
            float(revenue) + float(order["revenue"]),
            int(count) + 1,
        ]  # type: ignore[arg-type]
    return {k: [q, round(float(r), 2), c] for k, (q, r, c) in totals.items()}  # type: ignore[arg-type]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--as-of", type=date.fromisoformat, default=date(2026, 1, 15))
    parser.add_argument("--rows", type=int, default=400)
    parser.add_argument("--files", type=int, default=2)
    ns = parser.parse_args()
    written = generate(ns.out_dir, ns.as_of, ns.rows, ns.files)
    print(f"wrote {len(written)} orders to {ns.out_dir}")
