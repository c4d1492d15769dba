"""The Function App's registered functions, read once per test session: the SDK lets `get_functions()` run
only once per app object (a second call reports every name as a duplicate)."""

from __future__ import annotations

from functools import cache
from typing import Any


@cache
def app_functions() -> tuple[Any, ...]:
    import function_app

    return tuple(function_app.app.get_functions())
