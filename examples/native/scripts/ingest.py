"""Example task for examples/native/daily-etl.yaml: counts the rows it would ingest."""

import sys

args = dict(zip(sys.argv[1::2], sys.argv[2::2], strict=False))
print(f"ingesting {args.get('--input', 'raw/')} for {args.get('--date', 'today')}")
