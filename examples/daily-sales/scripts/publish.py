"""Batch task: the report and a summary into OUT_DIR, which the task's output files upload to the
`published` container.

    python3 publish.py BATCH_LAKE_DIR OUT_DIR RUN_ID
"""

from __future__ import annotations

import csv
import json
import shutil
import sys
from pathlib import Path


def main() -> int:
    lake, out, run_id = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    part = sorted((lake / "aggregated").glob("part-*.csv"))[0]
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(part, out / "sales-by-category-region.csv")
    with open(part, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    summary = {
        "run_id": run_id,
        "rows": len(rows),
        "total_amount": round(sum(float(r["total_amount"]) for r in rows), 2),
        "orders": sum(int(r["record_count"]) for r in rows),
        "top": rows[0] if rows else None,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
