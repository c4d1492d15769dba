"""Derive the cluster *mode* of a task's compute: what happens to a cluster when the task runs.

The result is a list: the life-cycle mode first (on-demand job cluster, shared job cluster, existing
cluster, serverless), then every trait that applies (single node, autoscale, spot with fallback, spot,
high concurrency). So a one-node cluster created for the run is `[on_demand_job_cluster, single_node]`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from jobclusters.spec.model import ClusterSpec, Compute, ComputeMode

if TYPE_CHECKING:
    from jobclusters.spec.model import Job

_LIFECYCLE = {
    "new_cluster": ComputeMode.ON_DEMAND_JOB_CLUSTER,
    "job_cluster": ComputeMode.SHARED_JOB_CLUSTER,
    "existing_cluster": ComputeMode.EXISTING_CLUSTER,
    "pool": ComputeMode.EXISTING_CLUSTER,
    "serverless": ComputeMode.SERVERLESS,
}

# Legacy Databricks "High Concurrency" clusters set this profile to "serverless" (not serverless compute).
_PROFILE = "spark.databricks.cluster.profile"
_ISOLATION_MODES = {"USER_ISOLATION", "LEGACY_TABLE_ACL", "LEGACY_PASSTHROUGH"}


def cluster_traits(cluster: ClusterSpec) -> list[ComputeMode]:
    traits: list[ComputeMode] = []
    profile = cluster.spark_conf.get(_PROFILE, "")
    master = cluster.spark_conf.get("spark.master", "")
    if (
        profile == "singleNode"
        or master.startswith("local")
        or (cluster.num_workers == 0 and cluster.autoscale is None)
    ):
        traits.append(ComputeMode.SINGLE_NODE)
    if cluster.autoscale is not None:
        traits.append(ComputeMode.AUTOSCALE)
    if cluster.spot is not None:
        fallback = cluster.spot.fallback_to_on_demand or cluster.spot.on_demand_nodes > 0
        traits.append(ComputeMode.SPOT_WITH_FALLBACK if fallback else ComputeMode.SPOT)
    if profile == "serverless" or (cluster.security_mode or "").upper() in _ISOLATION_MODES:
        traits.append(ComputeMode.HIGH_CONCURRENCY)
    return traits


def cluster_mode(compute: Compute, job: Job | None = None) -> list[ComputeMode]:
    """Life-cycle mode first, then traits of the cluster it names (a job cluster is looked up in `job`)."""
    modes = [_LIFECYCLE[compute.kind]]
    cluster = compute.cluster
    if cluster is None and compute.kind == "job_cluster" and job is not None and compute.job_cluster_key:
        shared = job.job_cluster(compute.job_cluster_key)
        cluster = shared.cluster if shared is not None else None
    if cluster is not None:
        modes.extend(cluster_traits(cluster))
    return modes
