"""A catalogue refresh from the public Azure Retail Prices API, cached in Table storage.

The API takes an OData `$filter` and answers `{"Items": [...], "NextPageLink": url | null, ...}`, one page
at a time; every item is one meter (`armRegionName`, `armSkuName`, `skuName`, `meterName`, `productName`,
`serviceName`, `retailPrice`, `unitOfMeasure`, `type`, `currencyCode`). No credentials. Only what the
catalogue already names is asked for (its SKUs in the configured regions), so a refresh is a few pages.

A refresh starts from the last good catalogue and replaces the prices it finds; one that fails (the
API unreachable, a page not in the documented shape) changes nothing, so the last good catalogue stays.
Figures the API does not publish (DBUs per node type, Synapse vCores per node size) keep the snapshot's.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import requests
from pydantic import BaseModel, ConfigDict, ValidationError

from jobclusters.cost.catalogue import PriceCatalogue, VmPrice, sku_key

RETAIL_PRICES_URL = "https://prices.azure.com/api/retail/prices"
REFRESH_EVERY = timedelta(days=1)
MAX_PAGES = 50
SKUS_PER_QUERY = 10
log = logging.getLogger("jobclusters.cost.retail")


class RetailItem(BaseModel):
    """The fields of one API item the refresh reads (the API sends more)."""

    model_config = ConfigDict(extra="ignore")

    currencyCode: str = "USD"
    retailPrice: float
    armRegionName: str = ""
    armSkuName: str = ""
    skuName: str = ""
    meterName: str = ""
    productName: str = ""
    serviceName: str = ""
    unitOfMeasure: str = ""
    type: str = "Consumption"


class RetailPage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    Items: list[RetailItem]
    NextPageLink: str | None = None


class RefreshFailed(Exception):
    pass


Fetch = Callable[[str, dict[str, str] | None], Any]


def http_fetch(url: str, params: dict[str, str] | None) -> Any:
    response = requests.get(url, params=params, timeout=30)
    response.raise_for_status()
    return response.json()


def items(base_url: str, odata_filter: str, fetch: Fetch = http_fetch) -> Iterator[RetailItem]:
    """Every item the filter selects, following `NextPageLink` (which carries the query itself)."""
    url: str | None = base_url
    params: dict[str, str] | None = {"$filter": odata_filter}
    for _ in range(MAX_PAGES):
        if url is None:
            return
        try:
            page = RetailPage.model_validate(fetch(url, params))
        except (requests.RequestException, ValueError, ValidationError) as exc:
            raise RefreshFailed(f"retail prices page {url}: {exc}") from exc
        yield from page.Items
        url, params = page.NextPageLink, None
    raise RefreshFailed(f"more than {MAX_PAGES} pages for {odata_filter!r}")


def _hourly(item: RetailItem) -> bool:
    return item.type == "Consumption" and item.unitOfMeasure.strip().lower() == "1 hour"


def _vm_prices(found: Sequence[RetailItem]) -> dict[str, VmPrice]:
    """Linux meters only; `<size> Spot` and `<size> Low Priority` are the same SKU's other capacities."""
    prices: dict[str, dict[str, float]] = {}
    for item in found:
        if not _hourly(item) or "windows" in item.productName.lower() or not item.armSkuName:
            continue
        name = item.skuName.lower()
        capacity = "spot" if name.endswith(" spot") else "low_priority" if "low priority" in name else None
        prices.setdefault(sku_key(item.armSkuName), {})[capacity or "pay_as_you_go"] = item.retailPrice
    return {sku: VmPrice(**values) for sku, values in prices.items() if "pay_as_you_go" in values}


_DBU_METERS = (
    ("jobs light", "jobs_light"),
    ("serverless jobs", "serverless_jobs"),
    ("jobs compute", "jobs_compute"),
    ("all-purpose compute", "all_purpose"),
)


def _dbu_rates(found: Sequence[RetailItem]) -> dict[str, float]:
    """Premium-tier DBU meters (photon meters are a different price for different work: left out)."""
    rates: dict[str, float] = {}
    for item in found:
        meter = item.meterName.lower()
        if not _hourly(item) or "premium" not in meter or "photon" in meter or "dbu" not in meter:
            continue
        for words, compute in _DBU_METERS:
            if words in meter:
                rates.setdefault(compute, item.retailPrice)
                break
    return rates


def _in(region: str) -> str:
    return f"armRegionName eq '{region}'"


def _quoted(values: Sequence[str]) -> str:
    return " or ".join(f"armSkuName eq '{v}'" for v in values)


def refresh(
    last_good: PriceCatalogue,
    regions: Sequence[str],
    *,
    base_url: str = RETAIL_PRICES_URL,
    fetch: Fetch = http_fetch,
    today: date | None = None,
) -> PriceCatalogue:
    """A new catalogue: `last_good` with the API's current prices for its SKUs in `regions`."""
    data = last_good.model_dump(mode="python")
    currency: set[str] = set()
    for region in sorted({r.lower() for r in regions}):
        default = last_good.vm.get(last_good.default_region, {})
        known = sorted(set(last_good.vm.get(region, {})) | set(default))
        found: list[RetailItem] = []
        for start in range(0, len(known), SKUS_PER_QUERY):
            chunk = [_api_sku(s) for s in known[start : start + SKUS_PER_QUERY]]
            query = f"serviceName eq 'Virtual Machines' and {_in(region)} and ({_quoted(chunk)})"
            found += items(base_url, query, fetch)
        vm = _vm_prices(found)
        if vm:
            data["vm"][region] = {**data["vm"].get(region, {}), **vm}
        currency |= {i.currencyCode for i in found}
        if region != last_good.default_region.lower():
            continue
        query = f"serviceName eq 'Azure Databricks' and armRegionName eq '{region}'"
        data["databricks_dbu_rates"].update(_dbu_rates(list(items(base_url, query, fetch))))
        query = f"serviceName eq 'Azure Synapse Analytics' and armRegionName eq '{region}'"
        for item in items(base_url, query, fetch):
            meter = f"{item.productName} {item.meterName}".lower()
            if _hourly(item) and "apache spark" in meter and "vcore" in meter and "memory optimized" in meter:
                data["synapse_vcore_hour"] = item.retailPrice
        hdi = sorted(last_good.hdinsight_node_hour)
        if hdi:
            query = f"serviceName eq 'HDInsight' and {_in(region)} and ({_quoted(_api_skus(hdi))})"
            for item in items(base_url, query, fetch):
                if _hourly(item) and item.armSkuName:
                    data["hdinsight_node_hour"][sku_key(item.armSkuName)] = item.retailPrice
    if currency - {last_good.currency}:
        raise RefreshFailed(f"prices came in {sorted(currency)}, the catalogue is in {last_good.currency}")
    data["as_of"] = today or datetime.now(UTC).date()
    data["sources"] = [f"Azure Retail Prices API ({base_url}), refreshed {data['as_of']}", *last_good.sources]
    return PriceCatalogue.model_validate(data)


def _api_sku(sku: str) -> str:
    """The API spells SKUs `Standard_D2s_v3`; the catalogue keys them lower-case."""
    first, *rest = sku.split("_")
    return "_".join([first.capitalize(), *(_api_part(p) for p in rest)])


def _api_part(part: str) -> str:
    """`d2s` -> `D2s`, `nc4as` -> `NC4as`, `t4` -> `T4`; a version (`v3`) stays lower-case."""
    if re.fullmatch(r"v\d+", part):
        return part
    letters = re.match(r"[a-z]*", part)
    lead = letters.group(0) if letters else ""
    return lead.upper() + part[len(lead) :]


def _api_skus(skus: Sequence[str]) -> list[str]:
    return [_api_sku(s) for s in skus]


class PriceCache:
    """The last good catalogue in Table storage (one row), and when it was refreshed."""

    def __init__(self, table: Any) -> None:
        self._table = table

    def load(self) -> tuple[PriceCatalogue, datetime] | None:
        try:
            row = self._table.get_entity("catalogue", "current")
            return PriceCatalogue.model_validate_json(row["Catalogue"]), row["RefreshedAt"]
        except Exception:  # no row yet, or a row this version cannot read: the snapshot stands in
            return None

    def save(self, catalogue: PriceCatalogue, at: datetime) -> None:
        self._table.upsert_entity(
            {
                "PartitionKey": "catalogue",
                "RowKey": "current",
                "Catalogue": catalogue.model_dump_json(),
                "RefreshedAt": at,
            }
        )


def refresh_if_due(
    cache: PriceCache,
    fallback: PriceCatalogue,
    regions: Sequence[str],
    now: datetime,
    *,
    base_url: str = RETAIL_PRICES_URL,
    fetch: Fetch = http_fetch,
) -> PriceCatalogue:
    """The cached catalogue, refreshed first when a day old; a failed refresh keeps the last good one."""
    cached = cache.load()
    last_good = cached[0] if cached else fallback
    if cached is not None and now - cached[1] < REFRESH_EVERY:
        return last_good
    try:
        fresh = refresh(last_good, regions, base_url=base_url, fetch=fetch, today=now.date())
    except RefreshFailed as exc:
        log.warning("price refresh failed, keeping prices as of %s: %s", last_good.as_of, exc)
        return last_good
    cache.save(fresh, now)
    return fresh


def catalogue_json(catalogue: PriceCatalogue) -> str:
    return json.dumps(catalogue.model_dump(mode="json"), indent=2)
