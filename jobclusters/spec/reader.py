"""Typed reading of an untrusted JSON document that records a problem, with its path, instead of raising.

Importers read every field through a `Node`, so a wrong type or a missing required field becomes a
finding such as `$.tasks[1].timeout_seconds: expected an integer, got "soon"` and never a crash.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from jobclusters.spec.problems import Problems

_MISSING: Any = object()
_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def child_path(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if _PLAIN.fullmatch(key) else f"{path}[{json.dumps(key)}]"


def describe(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 40 else text[:37] + "..."


class Node:
    """A value inside the document plus where it is."""

    def __init__(self, value: Any, path: str, problems: Problems) -> None:
        self.value = value
        self.path = path
        self.problems = problems

    # ------------------------------------------------------------ navigation

    def at(self, key: str) -> str:
        return child_path(self.path, key)

    def has(self, key: str) -> bool:
        return isinstance(self.value, Mapping) and key in self.value

    def raw(self, key: str, default: Any = None) -> Any:
        if isinstance(self.value, Mapping):
            return self.value.get(key, default)
        return default

    def field_names(self) -> list[str]:
        return [str(k) for k in self.value] if isinstance(self.value, Mapping) else []

    def error(self, key: str | None, message: str, code: str = "invalid") -> None:
        self.problems.error(self.path if key is None else self.at(key), message, code)

    def warning(self, key: str | None, message: str, code: str = "warning") -> None:
        self.problems.warning(self.path if key is None else self.at(key), message, code)

    def _get(self, key: str, required: bool, expected: str) -> Any:
        value = self.raw(key, _MISSING)
        if value is _MISSING or value is None:
            if required:
                self.error(key, f"required: expected {expected}", "required")
            return _MISSING
        return value

    # ------------------------------------------------------------ scalars

    def string(self, key: str, *, required: bool = False, default: str | None = None) -> str | None:
        value = self._get(key, required, "a string")
        if value is _MISSING:
            return default
        if not isinstance(value, str):
            self.error(key, f"expected a string, got {describe(value)}", "type")
            return default
        if required and not value.strip():
            self.error(key, "expected a non-empty string", "required")
            return default
        return value

    def text(self, key: str, *, required: bool = False, default: str | None = None) -> str | None:
        """A string, or a number/bool written as one (IDs are often numbers in home formats)."""
        value = self._get(key, required, "a string")
        if value is _MISSING:
            return default
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float | str):
            return str(value)
        self.error(key, f"expected a string, got {describe(value)}", "type")
        return default

    def integer(
        self, key: str, *, required: bool = False, default: int | None = None, minimum: int | None = None
    ) -> int | None:
        value = self._get(key, required, "an integer")
        if value is _MISSING:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                self.error(key, f"expected an integer, got {describe(value)}", "type")
                return default
        if minimum is not None and value < minimum:
            self.error(key, f"expected an integer >= {minimum}, got {value}", "range")
            return default
        return value

    def number(self, key: str, *, default: float | None = None) -> float | None:
        value = self._get(key, False, "a number")
        if value is _MISSING:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.error(key, f"expected a number, got {describe(value)}", "type")
            return default
        return float(value)

    def boolean(self, key: str, *, default: bool = False) -> bool:
        value = self._get(key, False, "true or false")
        if value is _MISSING:
            return default
        if not isinstance(value, bool):
            self.error(key, f"expected true or false, got {describe(value)}", "type")
            return default
        return value

    def choice(
        self,
        key: str,
        allowed: Iterable[str],
        *,
        default: str | None = None,
        required: bool = False,
        case_insensitive: bool = False,
    ) -> str | None:
        options = list(allowed)
        value = self.string(key, required=required)
        if value is None:
            return default
        if case_insensitive:
            for option in options:
                if option.lower() == value.lower():
                    return option
        elif value in options:
            return value
        self.error(key, f"expected one of {', '.join(options)}, got {describe(value)}", "enum")
        return default

    # ------------------------------------------------------------ containers

    def obj(self, key: str, *, required: bool = False) -> Node | None:
        value = self._get(key, required, "an object")
        if value is _MISSING:
            return None
        if not isinstance(value, Mapping):
            self.error(key, f"expected an object, got {describe(value)}", "type")
            return None
        return Node(value, self.at(key), self.problems)

    def items(self, key: str, *, required: bool = False) -> list[Node]:
        value = self._get(key, required, "a list")
        if value is _MISSING:
            return []
        if not isinstance(value, list):
            self.error(key, f"expected a list, got {describe(value)}", "type")
            return []
        return [Node(item, child_path(self.at(key), i), self.problems) for i, item in enumerate(value)]

    def objects(self, key: str, *, required: bool = False) -> list[Node]:
        """Items of a list that must each be an object; others are reported and dropped."""
        found = []
        for item in self.items(key, required=required):
            if isinstance(item.value, Mapping):
                found.append(item)
            else:
                item.error(None, f"expected an object, got {describe(item.value)}", "type")
        return found

    def strings(self, key: str) -> list[str]:
        found = []
        for item in self.items(key):
            if isinstance(item.value, str | int | float) and not isinstance(item.value, bool):
                found.append(str(item.value))
            else:
                item.error(None, f"expected a string, got {describe(item.value)}", "type")
        return found

    def string_map(self, key: str) -> dict[str, str]:
        """An object of scalars, each written as a string (Spark conf, tags, env vars)."""
        node = self.obj(key)
        if node is None:
            return {}
        found: dict[str, str] = {}
        for name, value in node.value.items():
            if isinstance(value, bool):
                found[str(name)] = "true" if value else "false"
            elif isinstance(value, str | int | float):
                found[str(name)] = str(value)
            else:
                node.error(str(name), f"expected a string, got {describe(value)}", "type")
        return found

    def map(self, key: str) -> dict[str, Any]:
        node = self.obj(key)
        return dict(node.value) if node is not None else {}

    def check_keys(self, allowed: Iterable[str], *, what: str, severity: str = "error") -> None:
        """Report keys the home format does not define."""
        if not isinstance(self.value, Mapping):
            return
        known = set(allowed)
        for key in self.value:
            if key not in known:
                message = f"unknown field {key!r} in {what}"
                if severity == "error":
                    self.error(str(key), message, "unknown-key")
                else:
                    self.warning(str(key), message + " (kept, not used)", "unknown-key")
