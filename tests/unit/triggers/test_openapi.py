"""The OpenAPI document is true to the app: every HTTP route the app registers is in it (same path,
method, operation id, auth) and it describes nothing else."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.app_functions import app_functions
from triggers.http_api import UNKNOWN_ROUTE_FUNCTION
from triggers.openapi import ROUTE_PREFIX, document, methods_of


def _registered() -> dict[tuple[str, str], tuple[str, str]]:
    routes = {}
    for function in app_functions():
        trigger = function.get_trigger()
        if trigger.type != "httpTrigger" or function.get_function_name() == UNKNOWN_ROUTE_FUNCTION:
            continue
        auth = str(getattr(trigger.auth_level, "value", trigger.auth_level)).lower()
        for method in trigger.methods:
            routes[("/" + trigger.route, str(getattr(method, "value", method)).lower())] = (
                function.get_function_name(),
                auth,
            )
    return routes


def _documented() -> dict[tuple[str, str], tuple[str, str]]:
    doc = document()
    operations = {}
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            auth = "anonymous" if operation.get("security") == [] else "function"
            operations[(path, method)] = (operation["operationId"], auth)
    return operations


def test_every_registered_route_is_documented_and_nothing_else() -> None:
    assert _documented() == _registered()


def test_every_path_parameter_is_declared() -> None:
    for path, item in document()["paths"].items():
        declared = {p["name"] for p in item.get("parameters", [])}
        assert declared == {part[1:-1] for part in path.split("/") if part.startswith("{")}, path


def test_every_operation_documents_json_errors() -> None:
    for item in document()["paths"].values():
        for method, operation in item.items():
            if method == "parameters" or operation.get("security") == []:
                continue
            errors: dict[str, Any] = {k: v for k, v in operation["responses"].items() if k.startswith("4")}
            assert {"400", "401"} <= set(errors)
            assert all("application/json" in e["content"] for e in errors.values())


@pytest.mark.parametrize(
    ("path", "methods"),
    [
        (f"{ROUTE_PREFIX}/jobs", ["GET", "POST"]),
        (f"{ROUTE_PREFIX}/jobs/daily/runs", ["POST"]),
        (f"{ROUTE_PREFIX}/runs/run-1/tasks/load/logs", ["GET"]),
        (f"{ROUTE_PREFIX}/nowhere", []),
    ],
)
def test_methods_of_a_path_answer_the_405_allow_header(path: str, methods: list[str]) -> None:
    assert methods_of(path) == methods
