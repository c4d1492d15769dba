"""Our own format: the `Job` model written as JSON or YAML (see docs/job-format.md).

`format: jobclusters/v1` at the top marks a document as native explicitly; the model forbids unknown
fields, and pydantic's findings are reported at the JSON path of the offending value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from jobclusters.spec.model import Job
from jobclusters.spec.reader import Node, child_path

FORMAT_TAG = "jobclusters/v1"


def looks_like(doc: Mapping[str, Any]) -> bool:
    if doc.get("format") == FORMAT_TAG:
        return True
    tasks = doc.get("tasks")
    return isinstance(tasks, list) and any(isinstance(t, dict) and "key" in t for t in tasks)


def json_path(doc: Any, loc: Sequence[int | str]) -> str:
    """pydantic's `loc` as a JSON path into `doc`, skipping union tags that are not document keys."""
    path, node = "$", doc
    for part in loc:
        in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        in_map = isinstance(node, Mapping) and isinstance(part, str) and part in node
        if in_list or in_map:
            path, node = child_path(path, part), node[part]
        elif isinstance(node, Mapping) and isinstance(part, str) and part != node.get("kind"):
            path, node = child_path(path, part), None
    return path


def import_job(root: Node) -> Job | None:
    doc = {k: v for k, v in root.value.items() if k != "format"}
    doc.setdefault("source_format", "native")
    try:
        job = Job.model_validate(doc)
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            loc = [p for p in error["loc"] if isinstance(p, int | str)]
            message = error["msg"]
            if error["type"] == "extra_forbidden":
                message = f"unknown field {loc[-1]!r}" if loc else message
            elif error["type"] == "missing":
                message = "required field is missing"
            elif error["type"] == "union_tag_invalid":
                message = f"unknown kind: {error['msg']}"
            root.problems.error(json_path(root.value, loc), message, "schema")
        return None
    for i, task in enumerate(job.tasks):
        task.source_path = f"$.tasks[{i}]"
        if task.compute is not None and task.compute.cluster is not None:
            task.compute.cluster.source_path = f"$.tasks[{i}].compute.cluster"
    for i, cluster in enumerate(job.job_clusters):
        cluster.cluster.source_path = f"$.job_clusters[{i}].cluster"
    return job
