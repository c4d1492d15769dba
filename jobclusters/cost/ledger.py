"""The ledger: a task attempt's cost from what its row records, a run's cost from its task rows.

A task row says what compute the attempt had (`ComputeInfo`: node type, node range, spot, how the compute
came to be), when its work started and ended, and how long it waited for its pool or cluster
(`queue_seconds`). Compute created for the attempt (a Batch on-demand pool or autopool, a Databricks
on-demand job cluster) is charged whole, start-up included. A shared job cluster lives for the run: each
task pays the node time it ran, and the cluster's start-up and idle time is an overhead line of the run.
Existing pools and clusters charge the task only its node time.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from jobclusters.cost.catalogue import Capacity, PriceCatalogue
from jobclusters.cost.models import Cost, OverheadLine, RunCost, money
from jobclusters.cost.pricing import Charge, Platform, Usage, price
from jobclusters.tracking.models import ComputeInfo, TaskRunRecord

_WHOLE_MODES = frozenset({"onDemand", "autoPool", "on_demand_job_cluster"})
SHARED_JOB_CLUSTER = "shared_job_cluster"


def _platform(info: ComputeInfo) -> Platform:
    if info.kind == "local":
        return "synapse" if info.mode == "spark_pool" else "databricks"
    return info.kind


def _charge(info: ComputeInfo) -> Charge:
    if info.kind == "synapse" or info.mode in _WHOLE_MODES:
        return "whole"
    return "share"


def usage_of(
    info: ComputeInfo,
    *,
    start: datetime,
    end: datetime,
    queue_seconds: float | None,
    region: str,
    simulated: bool,
) -> Usage:
    platform = _platform(info)
    count = info.node_count or 1
    low = info.nodes_min if info.nodes_min is not None else count
    high = info.nodes_max if info.nodes_max is not None else count
    capacity: Capacity = "on_demand"
    if info.spot:
        capacity = "low_priority" if platform == "batch" else "spot"
    usage = Usage(
        platform=platform,
        node_type=info.node_size,
        driver_node_type=info.driver_node_size,
        nodes_min=min(low, high),
        nodes_max=max(low, high),
        run_seconds=max(0.0, (end - start).total_seconds()),
        startup_seconds=max(0.0, queue_seconds or 0.0),
        capacity=capacity,
        spot_fallback=bool(info.spot_fallback),
        charge=_charge(info),
        region=region,
        simulated=simulated,
        nodes_seen_min=info.nodes_seen_min,
        nodes_seen_max=info.nodes_seen_max,
    )
    mean = measured_mean_nodes(info)
    if mean is None:
        return usage
    return usage.model_copy(update={"node_seconds": mean * usage.billed_seconds})


def measured_mean_nodes(info: ComputeInfo) -> float | None:
    """The mean node count the polls saw. Polls see only first poll to last: the billed time before and
    after (pool allocation, the tail after the last poll) is priced at that mean, not left out."""
    if info.node_seconds is None:
        return None
    if info.observed_seconds:
        return info.node_seconds / info.observed_seconds
    return float(info.nodes_last if info.nodes_last is not None else info.nodes_seen_max or 0)


def task_cost(
    record: TaskRunRecord, catalogue: PriceCatalogue, *, region: str, simulated: bool
) -> Cost | None:
    """The attempt's cost once it has ended; None for work that used no compute (conditions, skips)."""
    info = record.compute
    if info is None or record.start_time is None or record.end_time is None or not record.state.terminal:
        return None
    usage = usage_of(
        info,
        start=record.start_time,
        end=record.end_time,
        queue_seconds=record.queue_seconds,
        region=region,
        simulated=simulated,
    )
    return price(usage, catalogue)


def _covered_seconds(intervals: Iterable[tuple[datetime, datetime]]) -> float:
    """Seconds covered by the union of the intervals."""
    total, reach = 0.0, None
    for begin, finish in sorted(intervals):
        if reach is None or begin > reach:
            total += (finish - begin).total_seconds()
            reach = finish
        elif finish > reach:
            total += (finish - reach).total_seconds()
            reach = finish
    return total


def shared_cluster_overheads(
    tasks: Sequence[TaskRunRecord], catalogue: PriceCatalogue, *, region: str, simulated: bool
) -> list[OverheadLine]:
    """Per shared job cluster: its life (first start-up to last end) minus the time tasks ran on it."""
    by_cluster: dict[str, list[TaskRunRecord]] = defaultdict(list)
    for task in tasks:
        info = task.compute
        if info and info.mode == SHARED_JOB_CLUSTER and task.start_time and task.end_time:
            by_cluster[f"{task.generation}|{info.pool_or_cluster}"].append(task)
    lines = []
    for key, members in sorted(by_cluster.items()):
        born = min(t.start_time - timedelta(seconds=t.queue_seconds or 0) for t in members if t.start_time)
        died = max(t.end_time for t in members if t.end_time)
        busy = _covered_seconds((t.start_time, t.end_time) for t in members if t.start_time and t.end_time)
        idle = max(0.0, (died - born).total_seconds() - busy)
        info = members[0].compute
        assert info is not None
        usage = usage_of(
            info,
            start=born,
            end=born + timedelta(seconds=idle),
            queue_seconds=0,
            region=region,
            simulated=simulated,
        )
        cost = price(usage.model_copy(update={"charge": "whole"}), catalogue)
        lines.append(
            OverheadLine(
                what=f"job cluster {key.split('|', 1)[1]}: start-up and idle time ({idle:.0f} s)",
                estimate=cost.estimate,
            )
        )
    return lines


def summed(costs: Sequence[Cost], basis: str, currency: str = "USD") -> Cost:
    """The sum of costs; null (naming the first reason) when any is null."""
    missing = next((c.basis for c in costs if c.estimate is None), None)
    if missing is not None:
        return Cost(currency=currency, basis=f"{basis}; {missing}")
    return Cost(
        currency=currency,
        estimate=money(sum(c.estimate or 0.0 for c in costs)),
        low=money(sum(c.low or 0.0 for c in costs)),
        high=money(sum(c.high or 0.0 for c in costs)),
        basis=basis if len(costs) != 1 else costs[0].basis,
    )


def task_total(rows: Sequence[TaskRunRecord]) -> Cost | None:
    """One task's cost in a run: every attempt of every generation it ran, each priced on its own row."""
    costs = [r.cost for r in rows if r.cost is not None]
    if not costs:
        return None
    return summed(costs, f"{len(costs)} attempt(s)", costs[0].currency)


def compute_name(info: ComputeInfo) -> str:
    """How `costs --by compute` groups: platform and node type (`batch Standard_D2s_v3`)."""
    return f"{_platform(info)} {info.node_size or '?'}" + (" spot" if info.spot else "")


def run_cost(
    tasks: Sequence[TaskRunRecord], overhead: Sequence[OverheadLine], currency: str = "USD"
) -> RunCost:
    """The sum of the priced task rows and the overhead lines; null (with the reason) when any is null."""
    priced = [t for t in tasks if t.cost is not None]
    unpriced = [t.task_key for t in priced if t.cost is not None and t.cost.estimate is None]
    unpriced += [line.what for line in overhead if line.estimate is None]
    basis = f"{len(priced)} task attempt(s) + {len(overhead)} overhead line(s)"
    if unpriced:
        return RunCost(currency=currency, overhead=list(overhead), basis=f"{basis}; no price for {unpriced}")

    def total(values: Iterable[float | None]) -> float:
        return money(sum(v or 0.0 for v in values))

    extra = total(line.estimate for line in overhead)
    by_compute: dict[str, float] = defaultdict(float)
    for task in priced:
        if task.cost is not None and task.compute is not None:
            by_compute[compute_name(task.compute)] += task.cost.estimate or 0.0
    return RunCost(
        by_compute={name: money(value) for name, value in sorted(by_compute.items())},
        currency=currency,
        estimate=money(total(t.cost.estimate for t in priced if t.cost) + extra),
        low=money(total(t.cost.low for t in priced if t.cost) + extra),
        high=money(total(t.cost.high for t in priced if t.cost) + extra),
        basis=basis,
        overhead=list(overhead),
    )
