"""HTTP triggers on a real loopback server, exercised with a real HTTP client."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from devhost.http.cors import CorsPolicy
from devhost.http.redact import SecretScrubber
from tests.conformance.apps.http_support.harness import Served, serve_app
from tests.conformance.apps.http_support.idle_engine import IdleEngine

APP_DIR = Path(__file__).parent / "apps" / "http_routes"
FUNCTION_KEY = "fn-key-5f0b6a"
MASTER_KEY = "master-key-9c1d2e"


def _idle(_app: object) -> IdleEngine:
    return IdleEngine()


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    with serve_app(APP_DIR, _idle) as s:
        yield s


@pytest.fixture(scope="module")
def keyed() -> Iterator[tuple[Served, io.StringIO]]:
    stream = io.StringIO()
    log = logging.getLogger("devhost.http.test_keyed")
    log.setLevel(logging.DEBUG)
    handler = logging.StreamHandler(stream)
    handler.addFilter(SecretScrubber([FUNCTION_KEY, MASTER_KEY]))
    log.addHandler(handler)
    settings = {"DEVHOST_FUNCTION_KEY": FUNCTION_KEY, "DEVHOST_MASTER_KEY": MASTER_KEY}
    try:
        with serve_app(APP_DIR, _idle, settings=settings, log=log) as s:
            yield s, stream
    finally:
        log.removeHandler(handler)


def test_int_constraint_selects_the_numeric_route_and_passes_route_params(served: Served) -> None:
    r = requests.get(served.url("items/42"), params={"q": "x"}, headers={"x-test-header": "h"}, timeout=10)
    assert r.status_code == 200
    body = r.json()
    assert body["function"] == "item_by_number"
    assert body["route_params"] == {"id": "42"}
    assert body["params"] == {"q": "x"}
    assert body["header"] == "h"
    assert body["url"].startswith(served.origin + "/api/items/42")
    assert r.headers["x-served-by"] == "item_by_number"
    assert r.headers["Content-Type"].startswith("application/json")


def test_literal_route_wins_over_a_parameter_route(served: Served) -> None:
    assert requests.get(served.url("items/special"), timeout=10).json()["function"] == "item_special"
    assert requests.get(served.url("items/widget"), timeout=10).json()["function"] == "item_by_name"


def test_async_function_receives_method_and_body(served: Served) -> None:
    r = requests.put(served.url("items/widget"), data=b"payload", timeout=10)
    body = r.json()
    assert (body["function"], body["method"], body["body"]) == ("item_by_name", "PUT", "payload")


def test_method_not_listed_is_not_routed(served: Served) -> None:
    assert requests.delete(served.url("items/widget"), timeout=10).status_code == 404


def test_catch_all_and_optional_parameters(served: Served) -> None:
    assert requests.get(served.url("files/a/b/c.txt"), timeout=10).json()["route_params"] == {
        "path": "a/b/c.txt"
    }
    assert requests.get(served.url("optional"), timeout=10).json()["route_params"] == {}
    assert requests.get(served.url("optional/7"), timeout=10).json()["route_params"] == {"id": "7"}


def test_percent_encoded_route_values_are_decoded(served: Served) -> None:
    r = requests.get(served.origin + "/api/items/big%20box", timeout=10)
    assert r.json()["route_params"] == {"name": "big box"}


def test_default_route_is_the_function_name_and_context_is_passed(served: Served) -> None:
    r = requests.post(served.url("default_route"), data=b"hi", timeout=10)
    assert r.status_code == 200
    assert r.text == "default_route:hi"
    assert r.headers["Content-Type"].startswith("text/plain")


def test_route_prefix_is_required(served: Served) -> None:
    assert requests.get(served.origin + "/items/42", timeout=10).status_code == 404


def test_none_return_is_204_and_bad_return_or_exception_is_500(served: Served) -> None:
    assert requests.get(served.url("returns/none"), timeout=10).status_code == 204
    assert requests.get(served.url("returns/dict"), timeout=10).status_code == 500
    r = requests.get(served.url("raises"), timeout=10)
    assert r.status_code == 500
    assert "boom" not in r.text


def test_without_configured_keys_function_and_admin_routes_are_open(served: Served) -> None:
    assert requests.get(served.url("secure/function"), timeout=10).text == "function-level ok"
    assert requests.get(served.url("secure/admin"), timeout=10).text == "admin-level ok"


def test_function_level_needs_a_function_or_master_key(keyed: tuple[Served, io.StringIO]) -> None:
    s, _ = keyed
    url = s.url("secure/function")
    assert requests.get(url, timeout=10).status_code == 401
    assert requests.get(url, params={"code": "wrong"}, timeout=10).status_code == 401
    assert requests.get(url, params={"code": FUNCTION_KEY}, timeout=10).status_code == 200
    assert requests.get(url, headers={"x-functions-key": FUNCTION_KEY}, timeout=10).status_code == 200
    assert requests.get(url, params={"code": MASTER_KEY}, timeout=10).status_code == 200


def test_admin_level_accepts_only_the_master_key(keyed: tuple[Served, io.StringIO]) -> None:
    s, _ = keyed
    url = s.url("secure/admin")
    assert requests.get(url, params={"code": FUNCTION_KEY}, timeout=10).status_code == 401
    assert requests.get(url, headers={"x-functions-key": MASTER_KEY}, timeout=10).status_code == 200


def test_anonymous_routes_stay_open_when_keys_are_set(keyed: tuple[Served, io.StringIO]) -> None:
    s, _ = keyed
    assert requests.get(s.url("items/1"), timeout=10).status_code == 200


def test_durable_webhooks_need_the_system_or_master_key(keyed: tuple[Served, io.StringIO]) -> None:
    s, _ = keyed
    status_url = s.origin + "/runtime/webhooks/durabletask/instances/nope"
    assert requests.get(status_url, timeout=10).status_code == 401
    assert requests.get(status_url, params={"code": FUNCTION_KEY}, timeout=10).status_code == 401
    assert requests.get(status_url, params={"code": MASTER_KEY}, timeout=10).status_code == 404
    system_key = s.host.keys.durabletask_key
    assert system_key and system_key not in (MASTER_KEY, FUNCTION_KEY)
    assert requests.get(status_url, params={"code": system_key}, timeout=10).status_code == 404


def test_request_log_has_one_line_per_request_and_never_a_key(keyed: tuple[Served, io.StringIO]) -> None:
    s, stream = keyed
    before = stream.getvalue().count("\n")
    requests.get(s.url("secure/function"), params={"code": FUNCTION_KEY, "x": "1"}, timeout=10)
    lines = stream.getvalue().splitlines()[before:]
    request_lines = [line for line in lines if "/api/secure/function" in line]
    assert len(request_lines) == 1
    assert "GET /api/secure/function?code=***&x=1 -> 200" in request_lines[0]
    assert "[secure_function]" in request_lines[0]
    assert FUNCTION_KEY not in stream.getvalue()
    assert MASTER_KEY not in stream.getvalue()


@pytest.mark.parametrize(("prefix", "path"), [("", "/items/42"), ("v1/edge", "/v1/edge/items/42")])
def test_route_prefix_comes_from_host_json(prefix: str, path: str) -> None:
    host_json = {"version": "2.0", "extensions": {"http": {"routePrefix": prefix}}}
    with serve_app(APP_DIR, _idle, host_json=host_json) as s:
        r = requests.get(s.origin + path, timeout=10)
        assert (r.status_code, r.json()["function"]) == (200, "item_by_number")
        assert requests.get(s.origin + "/api/items/42", timeout=10).status_code == 404


def test_root_answers_while_unknown_paths_are_404(served: Served) -> None:
    assert requests.get(served.origin + "/", timeout=10).status_code == 200
    assert requests.get(served.url("no/such/route"), timeout=10).status_code == 404


def test_cors_from_local_settings_host_section() -> None:
    policy = CorsPolicy.from_host_section({"CORS": "https://app.example, http://localhost:3000"})
    with serve_app(APP_DIR, _idle, cors=policy) as s:
        preflight = requests.options(
            s.url("items/1"),
            headers={
                "Origin": "http://localhost:3000",
                "Access-Control-Request-Method": "PUT",
                "Access-Control-Request-Headers": "x-test-header",
            },
            timeout=10,
        )
        assert preflight.status_code == 204
        assert preflight.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
        assert preflight.headers["Access-Control-Allow-Methods"] == "PUT"
        assert preflight.headers["Access-Control-Allow-Headers"] == "x-test-header"
        simple = requests.get(s.url("items/1"), headers={"Origin": "https://app.example"}, timeout=10)
        assert simple.headers["Access-Control-Allow-Origin"] == "https://app.example"
        other = requests.get(s.url("items/1"), headers={"Origin": "https://evil.example"}, timeout=10)
        assert other.status_code == 200
        assert "Access-Control-Allow-Origin" not in other.headers


def test_cors_settings_are_validated_naming_the_field() -> None:
    with pytest.raises(ValueError, match=r"\$\.Host\.CORSCredentials"):
        CorsPolicy.from_host_section({"CORS": "*", "CORSCredentials": "yes"})
    assert CorsPolicy.from_host_section({}) is None
