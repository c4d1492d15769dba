"""Importers: one per home format, chosen by name or detected from the document's shape."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from jobclusters.spec.importers import adf, batch, clusters, databricks, native
from jobclusters.spec.model import Job
from jobclusters.spec.reader import Node

Importer = Callable[[Node], Job | None]

IMPORTERS: dict[str, Importer] = {
    "native": native.import_job,
    "databricks": databricks.import_job,
    "adf": adf.import_job,
    "batch-job": batch.import_job,
    "batch-pool": batch.import_pool,
    "hdinsight": clusters.import_hdinsight,
    "synapse-pool": clusters.import_synapse_pool,
    "livy": clusters.import_livy,
    "hive": clusters.import_hive,
    "mapreduce": clusters.import_mapreduce,
}
ALIASES = {"synapse": "adf", "synapse-pipeline": "adf", "jobs": "databricks", "batch": "batch-job"}

#: documents the seed ships that are policies, not jobs: recognised, linted, never run
NOT_JOBS = {
    "cost-policy": ("cost_optimization", "a cost-optimization policy"),
    "security-config": ("security_config", "a security configuration"),
}

# Order matters: the more specific shapes first.
_DETECTORS: list[tuple[str, Callable[[dict[str, Any]], bool]]] = [
    ("native", native.looks_like),
    ("adf", adf.looks_like),
    ("hdinsight", clusters.looks_like_hdinsight),
    ("synapse-pool", clusters.looks_like_synapse_pool),
    ("batch-job", batch.looks_like_job),
    ("batch-pool", batch.looks_like_pool),
    ("databricks", databricks.looks_like),
    ("mapreduce", clusters.looks_like_mapreduce),
    ("hive", clusters.looks_like_hive),
    ("livy", clusters.looks_like_livy),
]


def detect_format(doc: Mapping[str, Any]) -> str | None:
    plain = dict(doc)
    for name, (key, _) in NOT_JOBS.items():
        if isinstance(plain.get(key), dict):
            return name
    for name, matches in _DETECTORS:
        if matches(plain):
            return name
    if isinstance(plain.get("name"), str) and set(plain) <= databricks.JOB_KEYS:
        return "databricks"
    return None


def format_names() -> list[str]:
    return sorted([*IMPORTERS, *NOT_JOBS])
