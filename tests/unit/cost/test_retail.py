"""The refresh against a loopback server answering in the Retail Prices API's documented shape."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from jobclusters.cost.catalogue import PriceCatalogue
from jobclusters.cost.retail import PriceCache, RefreshFailed, refresh, refresh_if_due

NOW = datetime(2026, 12, 6, 5, 0, tzinfo=UTC)


def item(**fields: Any) -> dict[str, Any]:
    return {
        "currencyCode": "USD",
        "type": "Consumption",
        "unitOfMeasure": "1 Hour",
        "armRegionName": "eastus",
        "productName": "Virtual Machines DSv3 Series",
        "serviceName": "Virtual Machines",
        "meterId": "ignored",
        **fields,
    }


VM_ITEMS = [
    item(armSkuName="Standard_D2s_v3", skuName="D2s v3", retailPrice=0.111),
    item(armSkuName="Standard_D2s_v3", skuName="D2s v3 Spot", retailPrice=0.012),
    item(armSkuName="Standard_D2s_v3", skuName="D2s v3 Low Priority", retailPrice=0.022),
    item(armSkuName="Standard_D2s_v3", skuName="D2s v3", retailPrice=0.2, productName="DSv3 Series Windows"),
    item(
        armSkuName="Standard_D2s_v3",
        skuName="D2s v3",
        retailPrice=50.0,
        type="Reservation",
        unitOfMeasure="1 Year",
    ),
]
DATABRICKS_ITEMS = [
    item(
        serviceName="Azure Databricks", meterName="Premium Jobs Compute DBU", retailPrice=0.31, armSkuName=""
    ),
    item(serviceName="Azure Databricks", meterName="Premium Jobs Compute Photon DBU", retailPrice=0.9),
    item(serviceName="Azure Databricks", meterName="Premium All-purpose Compute DBU", retailPrice=0.56),
]
SYNAPSE_ITEMS = [
    item(
        serviceName="Azure Synapse Analytics",
        productName="Azure Synapse Analytics Serverless Apache Spark Pool - Memory Optimized",
        meterName="vCore",
        retailPrice=0.15,
    ),
]


class Api:
    """Pages of two items, each page linking the next by `NextPageLink` (as the real API does)."""

    def __init__(self) -> None:
        self.url = ""
        self.queries: list[str] = []
        self.fail = False

    def answer(self, query: str, page: int) -> dict[str, Any]:
        if "Virtual Machines" in query:
            found = VM_ITEMS
        elif "Databricks" in query:
            found = DATABRICKS_ITEMS
        elif "Synapse" in query:
            found = SYNAPSE_ITEMS
        else:
            found = []
        chunk = found[page * 2 : page * 2 + 2]
        more = len(found) > page * 2 + 2
        return {
            "BillingCurrency": "USD",
            "CustomerEntityId": "Default",
            "Items": chunk,
            "NextPageLink": f"{self.url}?$filter={query}&$skip={(page + 1) * 2}" if more else None,
            "Count": len(chunk),
        }


@pytest.fixture
def api() -> Iterator[Api]:
    state = Api()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            params = parse_qs(urlparse(self.path).query)
            query = params.get("$filter", [""])[0]
            state.queries.append(query)
            if state.fail:
                self.send_response(503)
                self.end_headers()
                return
            body = json.dumps(state.answer(query, int(params.get("$skip", ["0"])[0]) // 2)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/api/retail/prices"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def last_good() -> PriceCatalogue:
    return PriceCatalogue.model_validate(
        {
            "as_of": date(2026, 1, 1),
            "vm": {"eastus": {"standard_d2s_v3": {"pay_as_you_go": 0.09}}},
            "databricks_dbu_rates": {"jobs_compute": 0.3, "jobs_light": 0.2},
            "databricks_dbus_per_node": {"standard_ds3_v2": 0.75},
        }
    )


def test_refresh_reads_every_page_and_keeps_linux_hourly_meters(api: Api) -> None:
    fresh = refresh(last_good(), ["eastus"], base_url=api.url, today=NOW.date())
    price = fresh.vm["eastus"]["standard_d2s_v3"]
    assert (price.pay_as_you_go, price.spot, price.low_priority) == (0.111, 0.012, 0.022)
    assert fresh.databricks_dbu_rates == {"jobs_compute": 0.31, "jobs_light": 0.2, "all_purpose": 0.56}
    assert fresh.synapse_vcore_hour == 0.15
    assert fresh.databricks_dbus_per_node == {"standard_ds3_v2": 0.75}  # not in the API: kept
    assert fresh.as_of == NOW.date() and "Retail Prices API" in fresh.sources[0]
    assert any("armSkuName eq 'Standard_D2s_v3'" in q for q in api.queries)
    assert sum("Virtual Machines" in q for q in api.queries) == 3  # 5 items, 2 a page


class MemoryTable:
    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], dict[str, Any]] = {}

    def get_entity(self, pk: str, rk: str) -> dict[str, Any]:
        return dict(self.rows[(pk, rk)])

    def upsert_entity(self, entity: dict[str, Any]) -> None:
        self.rows[(entity["PartitionKey"], entity["RowKey"])] = dict(entity)


def test_refresh_is_daily_cached_and_a_failure_keeps_the_last_good_catalogue(api: Api) -> None:
    cache = PriceCache(MemoryTable())
    url = api.url
    first = refresh_if_due(cache, last_good(), ["eastus"], NOW, base_url=url)
    assert first.vm["eastus"]["standard_d2s_v3"].pay_as_you_go == 0.111
    asked = len(api.queries)
    again = refresh_if_due(cache, last_good(), ["eastus"], NOW + timedelta(hours=23), base_url=url)
    assert again == first and len(api.queries) == asked  # served from the cache
    api.fail = True
    later = refresh_if_due(cache, last_good(), ["eastus"], NOW + timedelta(days=2), base_url=url)
    assert later == first  # the refresh failed: the last good one, not the snapshot
    assert len(api.queries) > asked


def test_a_page_not_in_the_documented_shape_fails_the_refresh() -> None:
    def fetch(url: str, params: dict[str, str] | None) -> Any:
        return {"value": []}

    with pytest.raises(RefreshFailed):
        refresh(last_good(), ["eastus"], base_url="http://x", fetch=fetch)
