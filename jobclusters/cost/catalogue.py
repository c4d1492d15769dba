"""The price catalogue: what an hour of each kind of compute costs, by SKU and region.

One dated snapshot ships with the project (`prices_snapshot.json`, its sources named in it), so the
embedded default and regions the catalogue does not list still price. On Azure a daily refresh from the
Retail Prices API replaces it (`jobclusters.cost.retail`). A lookup that finds nothing answers why, never
zero: a missing price is a `Missing` the pricing rules carry to a `null` cost with the reason.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

SNAPSHOT = Path(__file__).with_name("prices_snapshot.json")

Capacity = Literal["on_demand", "spot", "low_priority"]
DbuCompute = Literal["jobs_compute", "jobs_light", "all_purpose", "serverless_jobs"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class VmPrice(_Model):
    pay_as_you_go: float = Field(ge=0)
    spot: float | None = Field(default=None, ge=0)
    low_priority: float | None = Field(default=None, ge=0)


def sku_key(sku: str) -> str:
    """Azure SKU names are case-insensitive (`standard_d2s_v3` in Batch, `Standard_D2s_v3` elsewhere)."""
    return sku.strip().lower()


class PriceCatalogue(_Model):
    """Prices per hour in `currency`: VM per node-hour, Databricks per DBU-hour (plus the VM), Synapse
    per vCore-hour, HDInsight per node-hour (VM and HDInsight surcharge together)."""

    currency: str = "USD"
    as_of: date
    default_region: str = "eastus"
    sources: list[str] = Field(default_factory=list)
    vm: dict[str, dict[str, VmPrice]] = Field(default_factory=dict, description="region -> sku -> price")
    databricks_dbu_rates: dict[str, float] = Field(
        default_factory=dict, description="compute type -> price per DBU-hour"
    )
    databricks_dbus_per_node: dict[str, float] = Field(default_factory=dict, description="sku -> DBU/h")
    synapse_vcore_hour: float | None = Field(default=None, ge=0)
    synapse_node_vcores: dict[str, int] = Field(default_factory=dict, description="node size -> vCores")
    hdinsight_node_hour: dict[str, float] = Field(default_factory=dict, description="sku -> $/node-h")

    @field_validator("vm")
    @classmethod
    def _lower_keys(cls, value: dict[str, dict[str, VmPrice]]) -> dict[str, dict[str, VmPrice]]:
        return {region.lower(): {sku_key(s): p for s, p in skus.items()} for region, skus in value.items()}

    @field_validator("databricks_dbus_per_node", "hdinsight_node_hour", "synapse_node_vcores")
    @classmethod
    def _lower_skus(cls, value: dict[str, float]) -> dict[str, float]:
        return {sku_key(k): v for k, v in value.items()}

    def knows_region(self, region: str) -> bool:
        return region.lower() in self.vm

    def vm_rate(self, sku: str, region: str, capacity: Capacity) -> Rate | Missing:
        """A node-hour of `sku`; a region the catalogue does not list prices at the default region."""
        where = region.lower() if self.knows_region(region) else self.default_region
        note = "" if where == region.lower() else f" (no prices for region {region!r}: priced at {where})"
        price = self.vm.get(where, {}).get(sku_key(sku))
        if price is None:
            return Missing(f"no VM price for {sku!r} in {where}")
        if capacity == "on_demand":
            return Rate(price.pay_as_you_go, f"{sku} pay-as-you-go {where}{note}")
        value = price.spot if capacity == "spot" else price.low_priority
        if value is None:
            return Missing(f"no {capacity.replace('_', ' ')} price for {sku!r} in {where}")
        return Rate(value, f"{sku} {capacity.replace('_', ' ')} {where}{note}")

    def dbu_rate(self, compute: DbuCompute) -> Rate | Missing:
        value = self.databricks_dbu_rates.get(compute)
        if value is None:
            return Missing(f"no Databricks DBU rate for {compute}")
        return Rate(value, f"{compute} DBU")

    def dbus_per_node(self, sku: str) -> Rate | Missing:
        value = self.databricks_dbus_per_node.get(sku_key(sku))
        if value is None:
            return Missing(f"no DBUs-per-hour figure for node type {sku!r}")
        return Rate(value, f"{sku} DBU/h")

    def synapse_node_rate(self, node_size: str) -> Rate | Missing:
        vcores = self.synapse_node_vcores.get(sku_key(node_size))
        if vcores is None:
            return Missing(f"unknown Synapse node size {node_size!r}")
        if self.synapse_vcore_hour is None:
            return Missing("no Synapse Spark vCore-hour price")
        return Rate(vcores * self.synapse_vcore_hour, f"Synapse {node_size} ({vcores} vCores)")

    def hdinsight_node_rate(self, sku: str) -> Rate | Missing:
        value = self.hdinsight_node_hour.get(sku_key(sku))
        if value is None:
            return Missing(f"no HDInsight node-hour price for {sku!r}")
        return Rate(value, f"HDInsight {sku}")

    def label(self) -> str:
        return f"prices as of {self.as_of.isoformat()}"


@dataclass(frozen=True)
class Rate:
    """A price per hour (per node-hour, DBU-hour...) and where it came from."""

    per_hour: float
    what: str


@dataclass(frozen=True)
class Missing:
    """No price: the reason a cost stays null."""

    reason: str


def load_catalogue(path: Path) -> PriceCatalogue:
    return PriceCatalogue.model_validate(json.loads(path.read_text()))


@lru_cache(maxsize=1)
def snapshot() -> PriceCatalogue:
    """The catalogue shipped with the project."""
    return load_catalogue(SNAPSHOT)
