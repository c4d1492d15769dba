"""Binding expressions: `%Setting%` references, blob path patterns (`incoming/{name}.{ext}`) and the
`{...}` placeholders of output bindings, resolved from trigger data the way the Functions host does."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

PLACEHOLDER = re.compile(r"\{([^{}]+)\}")
SETTING = re.compile(r"%([^%]+)%")


class BindingExpressionError(ValueError):
    pass


def resolve_settings(text: str, settings: Mapping[str, str], *, where: str) -> str:
    """Replace `%Name%` with the app setting `Name`, as the host does for any binding property."""

    def sub(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in settings:
            raise BindingExpressionError(f"{where}: app setting {name!r} (from %{name}%) is not defined")
        return settings[name]

    return SETTING.sub(sub, text)


@dataclass(frozen=True)
class BlobPathPattern:
    """A blob trigger `path`: a literal container, then a blob-name pattern with `{param}` captures."""

    container: str
    blob_pattern: str
    prefix: str  # the literal part before the first placeholder: what listing can filter on
    regex: re.Pattern[str]
    groups: dict[str, str]  # regex group -> parameter name

    def match(self, blob_name: str) -> dict[str, str] | None:
        found = self.regex.fullmatch(blob_name)
        if found is None:
            return None
        return {self.groups[g]: v for g, v in found.groupdict().items()}


def parse_blob_path(path: str, *, where: str) -> BlobPathPattern:
    container, sep, blob_pattern = path.strip().lstrip("/").partition("/")
    if not container or "{" in container:
        raise BindingExpressionError(
            f"{where}: path {path!r} must start with a literal container name, e.g. 'incoming/{{name}}'"
        )
    if not sep or not blob_pattern:
        blob_pattern = "{name}"
    parts: list[str] = []
    groups: dict[str, str] = {}
    position = 0
    for i, match in enumerate(PLACEHOLDER.finditer(blob_pattern)):
        parts.append(re.escape(blob_pattern[position:match.start()]))
        group = f"p{i}"
        groups[group] = match.group(1).strip()
        parts.append(f"(?P<{group}>.+)")
        position = match.end()
    parts.append(re.escape(blob_pattern[position:]))
    first = blob_pattern.find("{")
    prefix = blob_pattern if first < 0 else blob_pattern[:first]
    return BlobPathPattern(container, blob_pattern, prefix, re.compile("".join(parts), re.DOTALL), groups)


def _system_value(name: str) -> str | None:
    lowered = name.lower()
    if lowered in {"rand-guid", "sys.randguid"}:
        return str(uuid.uuid4())
    if lowered in {"datetime", "sys.utcnow"}:
        return datetime.now(UTC).strftime("%Y-%m-%dT%H-%M-%SZ")
    return None


def render(template: str, data: Mapping[str, Any], *, where: str) -> str:
    """Fill `{name}` placeholders from trigger data (case-insensitive, dotted paths into JSON bodies)."""
    lowered = {k.lower(): v for k, v in data.items()}

    def lookup(name: str) -> str:
        system = _system_value(name)
        if system is not None:
            return system
        value: Any = lowered
        for step in name.split("."):
            if isinstance(value, Mapping):
                keyed = {str(k).lower(): v for k, v in value.items()}
                if step.lower() in keyed:
                    value = keyed[step.lower()]
                    continue
            available = ", ".join(sorted(data)) or "none"
            raise BindingExpressionError(f"{where}: no value for {{{name}}} (trigger data: {available})")
        return str(value)

    return PLACEHOLDER.sub(lambda m: lookup(m.group(1).strip()), template)
