"""`jobclusters estimate FILE`: what a job's run will cost, before it runs.

Per task: its compute (platform, node type, node range, spot) and the price of a node-hour; the expected
cost, the median of what the task cost in this job's past runs (null without any); the worst case, every
attempt (retries included) running to its timeout on the most nodes, each with a start-up allowance when
the compute is created for it. A task without a timeout (and a job without one) has no worst case: null,
and it says so. The totals sum the tasks; a null task makes its total null.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence

from pydantic import BaseModel, ConfigDict, Field

from jobclusters.cost.catalogue import Capacity, PriceCatalogue
from jobclusters.cost.models import money
from jobclusters.cost.pricing import Charge, Platform, Usage, price
from jobclusters.spec.model import ClusterSpec, ComputeMode, Job, Task

#: start-up billed before a created pool or cluster runs the task (not bounded by the task's timeout)
STARTUP_ALLOWANCE_SECONDS = 600
_PLATFORMS: dict[str, Platform] = {
    "databricks": "databricks",
    "batch": "batch",
    "hdinsight": "hdinsight",
    "synapse": "synapse",
    "local": "databricks",
}


class TaskEstimate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    compute: str
    price_per_hour: float | None = Field(default=None, description="all its nodes, at the most nodes")
    expected: float | None = None
    worst: float | None = None
    basis: str


class Totals(BaseModel):
    model_config = ConfigDict(extra="forbid")

    expected: float | None = None
    worst: float | None = None


class Estimate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    currency: str = "USD"
    job_id: str
    past_runs: int = 0
    tasks: dict[str, TaskEstimate] = Field(default_factory=dict)
    total: Totals = Field(default_factory=Totals)


def cluster_of(task: Task, job: Job) -> ClusterSpec | None:
    compute = task.compute
    if compute is None:
        return None
    if compute.job_cluster_key:
        found = job.job_cluster(compute.job_cluster_key)
        return found.cluster if found else None
    return compute.cluster


def usage_of(cluster: ClusterSpec, task: Task, seconds: float, *, region: str) -> Usage:
    platform = _PLATFORMS[cluster.platform]
    if cluster.autoscale is not None:
        low, high = cluster.autoscale.min_workers, cluster.autoscale.max_workers
        high = high if high is not None else max(low, cluster.num_workers or low)
    else:
        low = high = cluster.num_workers if cluster.num_workers is not None else 1
    driver = 1 if platform == "databricks" else 0
    capacity: Capacity = "on_demand"
    if cluster.spot is not None:
        capacity = "low_priority" if platform == "batch" else "spot"
    created = task.compute is not None and task.compute.kind in ("new_cluster", "job_cluster")
    charge: Charge = "whole" if created else "share"
    return Usage(
        platform=platform,
        node_type=cluster.node_type,
        driver_node_type=cluster.driver_node_type,
        nodes_min=low + driver,
        nodes_max=high + driver,
        run_seconds=seconds,
        startup_seconds=STARTUP_ALLOWANCE_SECONDS if created else 0,
        capacity=capacity,
        spot_fallback=bool(cluster.spot and cluster.spot.fallback_to_on_demand),
        charge=charge,
        region=region,
    )


def _worst_seconds(task: Task, job: Job) -> tuple[float | None, int | None, str]:
    """(seconds per attempt, attempts, why there is none)."""
    timeout = task.timeout_seconds or job.timeout_seconds
    if not timeout:
        return None, None, "no timeout on the task or the job: the worst case is unbounded"
    if task.retry.max_retries < 0:
        return None, None, "retries forever: the worst case is unbounded"
    attempts = task.retry.max_retries + 1
    if job.timeout_seconds and task.timeout_seconds:
        timeout = min(task.timeout_seconds, job.timeout_seconds)
    return float(timeout), attempts, ""


def estimate_task(
    task: Task, job: Job, catalogue: PriceCatalogue, past: Sequence[float], *, region: str
) -> TaskEstimate:
    expected = money(statistics.median(past)) if past else None
    history = f"expected: median of {len(past)} past run(s)" if past else "expected: no past runs"
    cluster = cluster_of(task, job)
    if task.compute is None:
        return TaskEstimate(compute="none", expected=expected or 0.0, worst=0.0, basis="uses no compute")
    if cluster is None:
        kind = task.compute.kind
        reason = (
            "serverless compute"
            if ComputeMode.SERVERLESS in task.compute.modes
            else f"an {kind} of unknown size"
        )
        return TaskEstimate(compute=kind, expected=expected, basis=f"{history}; no price: {reason}")
    hour = price(
        usage_of(cluster, task, 3600, region=region).model_copy(update={"startup_seconds": 0}), catalogue
    )
    label = f"{cluster.platform} {cluster.node_type or '?'}"
    if hour.estimate is None:
        return TaskEstimate(compute=label, expected=expected, basis=f"{history}; {hour.basis}")
    seconds, attempts, why = _worst_seconds(task, job)
    worst = None
    if seconds is not None and attempts is not None:
        worst_cost = price(usage_of(cluster, task, seconds, region=region), catalogue)
        worst = money((worst_cost.high or 0.0) * attempts)
        why = f"worst: {attempts} attempt(s) x {seconds:.0f} s on the most nodes, each with start-up"
    return TaskEstimate(
        compute=label, price_per_hour=hour.high, expected=expected, worst=worst, basis=f"{history}; {why}"
    )


def _sum(values: Sequence[float | None]) -> float | None:
    if any(v is None for v in values):
        return None
    return money(sum(v or 0.0 for v in values))


def estimate(
    job: Job,
    job_id: str,
    catalogue: PriceCatalogue,
    history: Mapping[str, Sequence[float]],
    *,
    past_runs: int = 0,
    region: str = "eastus",
) -> Estimate:
    """`history`: per task key, what it cost in each past run that priced it."""
    tasks = {
        task.key: estimate_task(task, job, catalogue, history.get(task.key, ()), region=region)
        for task in job.tasks
    }
    return Estimate(
        currency=catalogue.currency,
        job_id=job_id,
        past_runs=past_runs,
        tasks=tasks,
        total=Totals(
            expected=_sum([t.expected for t in tasks.values()]) if past_runs else None,
            worst=_sum([t.worst for t in tasks.values()]),
        ),
    )
