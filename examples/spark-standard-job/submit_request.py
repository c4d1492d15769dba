"""The runs/submit request `run_local.py` sends, built from `job.json` (the Databricks Jobs definition).

One file is the source of truth: `job.json` is what `python -m jobclusters validate/run` take; this turns
it into the one-time run request the cluster service accepts (Databricks `runs/submit` shape: `run_name`,
tasks with their cluster, `depends_on` as task keys, fields the service does not run dropped).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
TASK_FIELDS = (
    "task_key",
    "job_cluster_key",
    "new_cluster",
    "existing_cluster_id",
    "spark_python_task",
    "libraries",
    "timeout_seconds",
)


def runs_submit_request(run_id: str, job_file: Path = HERE / "job.json") -> dict[str, Any]:
    job = json.loads(job_file.read_text())
    tasks = [
        {
            **{field: task[field] for field in TASK_FIELDS if field in task},
            "depends_on": [dep["task_key"] for dep in task.get("depends_on", [])],
        }
        for task in job["tasks"]
    ]
    return {
        "run_id": run_id,
        "run_name": job["name"],
        "tags": job.get("tags", {}),
        "timeout_seconds": job.get("timeout_seconds"),
        "job_clusters": job.get("job_clusters", []),
        "tasks": tasks,
        "base_dir": str(job_file.parent),
    }
