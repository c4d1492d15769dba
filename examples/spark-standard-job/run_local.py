"""Run the standard job (`job.json`) on the local cluster service directly: submit, poll, print the result.

The job's first task writes the sample input, its second aggregates it. The same job runs through the
app with `python -m jobclusters run examples/spark-standard-job/job.json`.

    .venv/bin/python examples/spark-standard-job/run_local.py [--state-dir .state/example]

Needs PySpark (`pip install -r requirements-spark.txt`) and Java 17+.
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
LOG_TAIL_CHARS = 3000
TASK_VALUES_CHARS = 500
sys.path.insert(0, str(HERE.parent.parent))
sys.path.insert(0, str(HERE))

from submit_request import runs_submit_request  # noqa: E402

from jobclusters.services.cluster import parse_run_request  # noqa: E402
from jobclusters.services.local_cluster import LocalClusterJobService  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--state-dir", type=Path, default=Path(".state") / "example")
    parser.add_argument("--timeout", type=float, default=300.0)
    args = parser.parse_args()
    service = LocalClusterJobService(args.state_dir)
    request = parse_run_request(runs_submit_request("example-daily-sales"))
    handle = service.submit(request, f"{request.run_id}:{uuid.uuid4()}")  # each invocation is a new run
    state = service.wait(handle, args.timeout)
    output = service.get_output(handle)
    for task in output.tasks:
        values = json.dumps(task.task_values)[:TASK_VALUES_CHARS]
        print(f"== {task.task_key}\n{task.logs[-LOG_TAIL_CHARS:]}\ntask values: {values}")
    print(f"result: {state.result} {state.message}")
    service.close()
    return 0 if state.result == "SUCCESS" else 1


if __name__ == "__main__":
    sys.exit(main())
