"""The cost policy file (the seed guide's `cost-optimization.json` shape), applied to every job at start.

App setting `JOBCLUSTERS_COST_POLICY` names the file. When a run is started its job is rewritten once,
before the request is signed, so what runs is what the run record and the API show:

- `spot_instances`: clusters without their own spot settings get them. Databricks: `azure_attributes`
  (`SPOT_WITH_FALLBACK_AZURE` or `SPOT_AZURE`, the driver on-demand, `spot_bid_max_price` at
  `max_price_percentage` of the on-demand price when the catalogue has it); Batch: low-priority nodes.
- `auto_termination`: `idle_minutes` becomes the clusters' auto-termination; `force_termination_hours`
  a hard timeout on the job (a shorter timeout of its own stays).
- `resource_tagging`: tags on the job and every cluster (Databricks `custom_tags`, Batch pool metadata),
  so Azure Cost Management sees them; the job's own tags win, and a value still a `{{placeholder}}` is
  left out.
- `scheduling`: the preferred window; a job tagged `jobclusters.wait_for_window: "true"` waits for it
  (`next_window_start`).

A file with unknown fields or an invalid window is a `PolicyError` naming the JSON path.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from jobclusters.cost.catalogue import Missing, PriceCatalogue
from jobclusters.spec.model import ClusterSpec, Job, SpotPolicy

WAIT_TAG = "jobclusters.wait_for_window"
_PLACEHOLDER = re.compile(r"\{\{.*\}\}")
_HOURS = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")
DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


class PolicyError(ValueError):
    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{path}: {message}" for path, message in problems))


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SpotInstances(_Model):
    enabled: bool = False
    max_price_percentage: float | None = Field(default=None, gt=0, le=100)
    fallback_to_on_demand: bool = True


class AutoTermination(_Model):
    idle_minutes: int | None = Field(default=None, ge=10, le=43200)
    force_termination_hours: float | None = Field(default=None, gt=0)


def parse_days(text: str) -> frozenset[int]:
    """`Monday-Friday`, `Saturday,Sunday` or one day: weekday numbers (Monday 0)."""
    days: set[int] = set()
    for part in text.split(","):
        first, _, last = part.strip().lower().partition("-")
        if first not in DAYS or (last and last not in DAYS):
            raise ValueError(f"expected day names like Monday-Friday or Saturday,Sunday, not {text!r}")
        start, end = DAYS.index(first), DAYS.index(last or first)
        days.update((start + i) % 7 for i in range((end - start) % 7 + 1))
    return frozenset(days)


class Scheduling(_Model):
    preferred_hours: str = "00:00-24:00"
    preferred_days: str = "Monday-Sunday"
    timezone: str = "UTC"

    @field_validator("preferred_hours")
    @classmethod
    def _hours(cls, value: str) -> str:
        found = _HOURS.fullmatch(value.strip())
        if found is None:
            raise ValueError(f"expected HH:MM-HH:MM such as 09:00-17:00, not {value!r}")
        if (found.group(3), found.group(4)) != ("24", "00") and found.group(3) == "24":
            raise ValueError("an end at 24 must be 24:00")
        if value.split("-")[0] == value.split("-")[1]:
            raise ValueError("the window is empty: its start and end are the same")
        return value.strip()

    @field_validator("preferred_days")
    @classmethod
    def _days(cls, value: str) -> str:
        parse_days(value)
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r} (expected an IANA name such as Europe/Paris)"
            ) from None
        return value

    def _bounds(self) -> tuple[time, time | None]:
        start, end = self.preferred_hours.split("-")
        opens = time.fromisoformat(start)
        return opens, None if end == "24:00" else time.fromisoformat(end)

    def is_open(self, at: datetime) -> bool:
        local = at.astimezone(ZoneInfo(self.timezone))
        opens, closes = self._bounds()
        now = local.time()
        if closes is None or opens < closes:
            inside, day = now >= opens and (closes is None or now < closes), local.weekday()
        else:  # over midnight: the window belongs to the day it opened
            inside = now >= opens or now < closes
            day = local.weekday() if now >= opens else (local.weekday() - 1) % 7
        return inside and day in parse_days(self.preferred_days)

    def next_window_start(self, at: datetime) -> datetime:
        """`at` itself when the window is open, else when it next opens (in UTC, as `at`'s zone)."""
        if self.is_open(at):
            return at
        zone = ZoneInfo(self.timezone)
        local = at.astimezone(zone)
        opens, _ = self._bounds()
        days = parse_days(self.preferred_days)
        for ahead in range(8):
            day = (local + timedelta(days=ahead)).date()
            candidate = datetime.combine(day, opens, tzinfo=zone)
            if candidate > local and candidate.weekday() in days:
                return candidate.astimezone(at.tzinfo)
        raise ValueError("no preferred window in the next week")  # unreachable: a day is always chosen


PositiveAmount = Annotated[float, Field(gt=0)]


class CostOptimization(_Model):
    spot_instances: SpotInstances = Field(default_factory=SpotInstances)
    auto_termination: AutoTermination = Field(default_factory=AutoTermination)
    resource_tagging: dict[str, str] = Field(default_factory=dict)
    scheduling: Scheduling | None = None
    monthly_budgets: dict[str, dict[str, PositiveAmount]] = Field(
        default_factory=dict,
        description="tag name -> tag value -> what that value's runs may cost a calendar month (UTC)",
    )


class CostPolicy(_Model):
    cost_optimization: CostOptimization


def parse_policy(document: Any) -> CostPolicy:
    try:
        return CostPolicy.model_validate(document)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            path = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error["loc"])
            problems.append((path, error["msg"].removeprefix("Value error, ")))
        raise PolicyError(problems) from None


def load_policy(path: Path) -> CostPolicy:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PolicyError([("$", f"cannot read the cost policy {path}: {exc}")]) from None
    return parse_policy(document)


def _tags(policy: CostOptimization) -> dict[str, str]:
    return {k: v for k, v in policy.resource_tagging.items() if not _PLACEHOLDER.search(v)}


def _spot_price(
    cluster: ClusterSpec, policy: SpotInstances, catalogue: PriceCatalogue, region: str
) -> float | None:
    if policy.max_price_percentage is None or not cluster.node_type:
        return None
    rate = catalogue.vm_rate(cluster.node_type, region, "on_demand")
    if isinstance(rate, Missing):
        return None
    return round(rate.per_hour * policy.max_price_percentage / 100, 5)


def _cluster(
    cluster: ClusterSpec, policy: CostOptimization, catalogue: PriceCatalogue, region: str
) -> ClusterSpec:
    tags = {**_tags(policy), **cluster.tags}
    update: dict[str, Any] = {"tags": tags}
    home = dict(cluster.home)
    spot = policy.spot_instances
    if spot.enabled and cluster.spot is None and cluster.platform in ("databricks", "batch"):
        driver = 1 if cluster.platform == "databricks" else 0
        max_price = _spot_price(cluster, spot, catalogue, region)
        update["spot"] = SpotPolicy(
            on_demand_nodes=driver, fallback_to_on_demand=spot.fallback_to_on_demand, max_price=max_price
        )
        if cluster.platform == "databricks" and home and "azure_attributes" not in home:
            home["azure_attributes"] = {
                "availability": "SPOT_WITH_FALLBACK_AZURE" if spot.fallback_to_on_demand else "SPOT_AZURE",
                "first_on_demand": 1,
                **({"spot_bid_max_price": max_price} if max_price is not None else {}),
            }
        if (
            cluster.platform == "batch"
            and home.get("targetDedicatedNodes")
            and not home.get("targetLowPriorityNodes")
        ):
            home["targetLowPriorityNodes"], home["targetDedicatedNodes"] = home["targetDedicatedNodes"], 0
    idle = policy.auto_termination.idle_minutes
    if idle is not None and cluster.auto_termination_minutes is None:
        update["auto_termination_minutes"] = idle
    if home and cluster.platform == "databricks":
        home["custom_tags"] = {**_tags(policy), **(home.get("custom_tags") or {})}
    if home and cluster.platform == "batch":
        named = {item.get("name") for item in home.get("metadata") or [] if isinstance(item, dict)}
        extra = [{"name": k, "value": v} for k, v in _tags(policy).items() if k not in named]
        home["metadata"] = [*(home.get("metadata") or []), *extra]
    update["home"] = home
    return cluster.model_copy(update=update)


def apply_policy(job: Job, policy: CostPolicy, catalogue: PriceCatalogue, *, region: str) -> Job:
    """The job as the policy runs it (a new object; `job` is not changed)."""
    rules = policy.cost_optimization
    data = job.model_copy(deep=True)
    data.tags = {**_tags(rules), **job.tags}
    for shared in data.job_clusters:
        shared.cluster = _cluster(shared.cluster, rules, catalogue, region)
    for task in data.all_tasks():
        if task.compute is not None and task.compute.cluster is not None:
            task.compute.cluster = _cluster(task.compute.cluster, rules, catalogue, region)
    hours = rules.auto_termination.force_termination_hours
    if hours is not None:
        forced = int(hours * 3600)
        data.timeout_seconds = min(job.timeout_seconds, forced) if job.timeout_seconds else forced
    return Job.model_validate(data.model_dump(mode="json"))


def waits_for_window(job: Job) -> bool:
    return job.tags.get(WAIT_TAG, "").strip().lower() == "true"


_loaded: dict[tuple[str, int, int], CostPolicy] = {}


def policy_at(path: Path | None) -> CostPolicy | None:
    """The policy in the file the app setting names (read again when the file changes); None without one."""
    if path is None:
        return None
    try:
        stat = path.stat()
    except OSError as exc:
        raise PolicyError([("$", f"cannot read the cost policy {path}: {exc.strerror}")]) from None
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    if key not in _loaded:
        _loaded.clear()
        _loaded[key] = load_policy(path)
    return _loaded[key]
