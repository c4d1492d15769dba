"""The pricing rules: what one use of compute costs. The one place money is computed from prices.

- A node-hour is the VM's price (spot / low-priority when the nodes were), plus on Databricks the node's
  DBUs times the compute type's DBU rate; Synapse prices vCores, HDInsight its own node-hour.
- Spot with fallback to on-demand: the estimate at the spot price, the high end at on-demand.
- A node range (autoscale) without a measured node count: low at the minimum, high at the maximum, the
  estimate at the middle. A measured node-seconds figure replaces the estimate.
- Compute created for the run is charged whole: its start-up is billed with the work. Shared compute
  (an existing pool or cluster) charges only the node time the task ran on it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from jobclusters.cost.catalogue import Capacity, DbuCompute, Missing, PriceCatalogue, Rate
from jobclusters.cost.models import Cost, money

Platform = Literal["batch", "databricks", "synapse", "hdinsight"]
Charge = Literal["whole", "share"]


class Usage(BaseModel):
    """What one task attempt used. `nodes_*` count every billed node (a Databricks driver included)."""

    model_config = ConfigDict(extra="forbid")

    platform: Platform
    node_type: str | None = None
    driver_node_type: str | None = None
    nodes_min: int = Field(ge=0)
    nodes_max: int = Field(ge=0)
    node_seconds: float | None = Field(default=None, ge=0, description="measured node time, when known")
    run_seconds: float = Field(ge=0)
    startup_seconds: float = Field(default=0.0, ge=0)
    capacity: Capacity = "on_demand"
    spot_fallback: bool = False
    charge: Charge = "whole"
    dbu_compute: DbuCompute = "jobs_compute"
    region: str = "eastus"
    simulated: bool = Field(default=False, description="measured on the embedded default, priced as Azure")
    nodes_seen_min: int | None = Field(default=None, ge=0, description="fewest nodes the polls saw")
    nodes_seen_max: int | None = Field(default=None, ge=0, description="most nodes the polls saw")

    @property
    def billed_seconds(self) -> float:
        return self.run_seconds + (self.startup_seconds if self.charge == "whole" else 0.0)


def node_rate(usage: Usage, catalogue: PriceCatalogue, node_type: str, capacity: Capacity) -> Rate | Missing:
    """One node-hour of `node_type` on the usage's platform."""
    if usage.platform == "synapse":
        return catalogue.synapse_node_rate(node_type)
    if usage.platform == "hdinsight":
        return catalogue.hdinsight_node_rate(node_type)
    vm = catalogue.vm_rate(node_type, usage.region, capacity)
    if isinstance(vm, Missing) or usage.platform == "batch":
        return vm
    dbus, dbu_rate = catalogue.dbus_per_node(node_type), catalogue.dbu_rate(usage.dbu_compute)
    if isinstance(dbus, Missing):
        return dbus
    if isinstance(dbu_rate, Missing):
        return dbu_rate
    return Rate(
        vm.per_hour + dbus.per_hour * dbu_rate.per_hour,
        f"{vm.what} + {dbus.per_hour:g} DBU/h x {dbu_rate.per_hour:g} {usage.dbu_compute}",
    )


def _capacities(usage: Usage) -> tuple[Capacity, Capacity]:
    """(priced at for the estimate and low end, priced at for the high end)."""
    if usage.capacity != "on_demand" and usage.spot_fallback:
        return usage.capacity, "on_demand"
    return usage.capacity, usage.capacity


def price(usage: Usage, catalogue: PriceCatalogue) -> Cost:
    currency = catalogue.currency
    if not usage.node_type:
        return Cost.unpriced(f"the {usage.platform} compute names no node type", currency)
    capacity, high_capacity = _capacities(usage)
    # A Databricks driver runs on-demand (first_on_demand) and may have its own size.
    has_driver = usage.platform == "databricks" and usage.nodes_max >= 1
    driver_type = usage.driver_node_type or usage.node_type
    worker_rate = node_rate(usage, catalogue, usage.node_type, capacity)
    worker_high = node_rate(usage, catalogue, usage.node_type, high_capacity)
    driver_rate = node_rate(usage, catalogue, driver_type, "on_demand") if has_driver else Rate(0.0, "")
    for found in (worker_rate, worker_high, driver_rate):
        if isinstance(found, Missing):
            return Cost.unpriced(found.reason, currency)
    assert isinstance(worker_rate, Rate) and isinstance(worker_high, Rate) and isinstance(driver_rate, Rate)
    hours = usage.billed_seconds / 3600
    fixed = driver_rate.per_hour * hours
    workers_min = max(0, usage.nodes_min - has_driver)
    workers_max = max(workers_min, usage.nodes_max - has_driver)
    low = fixed + workers_min * worker_rate.per_hour * hours
    high = fixed + workers_max * worker_high.per_hour * hours
    if usage.node_seconds is not None:
        estimate = (usage.node_seconds / 3600) * worker_rate.per_hour + fixed
        nodes = f"{usage.node_seconds / 3600:.4g} node-h measured"
        if usage.nodes_seen_min is not None and usage.nodes_seen_max is not None:
            nodes += f" ({usage.nodes_seen_min}..{usage.nodes_seen_max} nodes seen)"
    elif workers_min == workers_max:
        estimate = low
        nodes = f"{workers_max} x {usage.node_type}"
    else:
        estimate = fixed + (workers_min + workers_max) / 2 * worker_rate.per_hour * hours
        nodes = f"{workers_min}..{workers_max} x {usage.node_type} (middle of the range)"
    parts = [f"{nodes} at {worker_rate.per_hour:.4g}/h ({worker_rate.what})"]
    if has_driver:
        parts.append(f"driver {driver_type} at {driver_rate.per_hour:.4g}/h")
    if high_capacity != capacity:
        parts.append(f"high end at {worker_high.per_hour:.4g}/h if spot falls back to on-demand")
    billed = f"{usage.billed_seconds:.0f} s billed"
    if usage.charge == "whole":
        billed += f" incl. {usage.startup_seconds:.0f} s start-up, created for the run: charged whole"
    else:
        billed += " (shared compute: the run's share of node time)"
    parts += [billed, catalogue.label()]
    if usage.simulated:
        parts.append("embedded default: what the same run would cost on Azure")
    return Cost(
        currency=currency,
        estimate=money(estimate),
        low=money(min(low, estimate)),
        high=money(max(high, estimate)),
        basis="; ".join(parts),
    )
