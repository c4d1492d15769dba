"""Route templates of HTTP-triggered functions, matched the way the Functions host (ASP.NET routing) does.

Supported: literal segments (case-insensitive), `{name}`, optional `{name?}`, defaults `{name=value}`,
catch-all `{*rest}`, inline constraints `{n:int}`, `{s:alpha:maxlength(8)}`, several parameters in one
segment (`{file}.{ext}`). A constraint that fails means "no match", so the request falls through to the
next route and finally to 404, as in Azure.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import unquote


class RouteTemplateError(ValueError):
    """A route template that cannot be parsed; the message names the template and the problem."""


@dataclass(frozen=True)
class Parameter:
    name: str
    optional: bool = False
    catch_all: bool = False
    default: str | None = None
    constraints: tuple[str, ...] = ()


@dataclass(frozen=True)
class Segment:
    parts: tuple[str | Parameter, ...]

    @property
    def is_literal(self) -> bool:
        return all(isinstance(p, str) for p in self.parts)

    @property
    def single_parameter(self) -> Parameter | None:
        if len(self.parts) == 1 and isinstance(self.parts[0], Parameter):
            return self.parts[0]
        return None


def _is_int(v: str) -> bool:
    return re.fullmatch(r"[+-]?\d+", v) is not None


def _is_float(v: str) -> bool:
    try:
        float(v)
    except ValueError:
        return False
    return v.strip().lower() not in {"nan", "inf", "-inf", "+inf", "infinity", "-infinity"}


def _is_guid(v: str) -> bool:
    try:
        uuid.UUID(v)
    except ValueError:
        return False
    return True


def _is_datetime(v: str) -> bool:
    try:
        datetime.fromisoformat(v)
    except ValueError:
        return False
    return True


_SIMPLE_CONSTRAINTS: dict[str, Callable[[str], bool]] = {
    "int": lambda v: _is_int(v) and -(2**31) <= int(v) < 2**31,
    "long": lambda v: _is_int(v) and -(2**63) <= int(v) < 2**63,
    "bool": lambda v: v.lower() in {"true", "false"},
    "float": _is_float,
    "double": _is_float,
    "decimal": _is_float,
    "guid": _is_guid,
    "datetime": _is_datetime,
    "alpha": lambda v: re.fullmatch(r"[A-Za-z]+", v) is not None,
}


def _constraint_check(constraint: str, template: str) -> Callable[[str], bool]:
    if constraint in _SIMPLE_CONSTRAINTS:
        return _SIMPLE_CONSTRAINTS[constraint]
    m = re.fullmatch(r"(\w+)\((.*)\)", constraint, re.DOTALL)
    if m is None:
        raise RouteTemplateError(f"route {template!r}: unknown constraint {constraint!r}")
    kind, arg = m.group(1), m.group(2)
    if kind == "regex":
        try:
            pattern = re.compile(arg, re.IGNORECASE)
        except re.error as exc:
            raise RouteTemplateError(
                f"route {template!r}: bad regex in constraint {constraint!r}: {exc}"
            ) from exc
        return lambda v: pattern.search(v) is not None
    try:
        numbers = [int(x.strip()) for x in arg.split(",")]
    except ValueError as exc:
        raise RouteTemplateError(
            f"route {template!r}: constraint {constraint!r} expects integer arguments"
        ) from exc
    checks: dict[tuple[str, int], Callable[[str], bool]] = {
        ("minlength", 1): lambda v: len(v) >= numbers[0],
        ("maxlength", 1): lambda v: len(v) <= numbers[0],
        ("length", 1): lambda v: len(v) == numbers[0],
        ("length", 2): lambda v: numbers[0] <= len(v) <= numbers[1],
        ("min", 1): lambda v: _is_int(v) and int(v) >= numbers[0],
        ("max", 1): lambda v: _is_int(v) and int(v) <= numbers[0],
        ("range", 2): lambda v: _is_int(v) and numbers[0] <= int(v) <= numbers[1],
    }
    check = checks.get((kind, len(numbers)))
    if check is None:
        raise RouteTemplateError(f"route {template!r}: unknown constraint {constraint!r}")
    return check


def _split_outside_braces(text: str, sep: str, template: str) -> list[str]:
    parts, depth, current = [], 0, []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "{" and text[i : i + 2] == "{{" and depth == 0:
            current.append("{{")
            i += 2
            continue
        if ch == "}" and text[i : i + 2] == "}}" and depth == 0:
            current.append("}}")
            i += 2
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth < 0:
                raise RouteTemplateError(f"route {template!r}: unbalanced '}}'")
        if ch == sep and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    if depth != 0:
        raise RouteTemplateError(f"route {template!r}: unbalanced '{{'")
    parts.append("".join(current))
    return parts


def _split_constraints(body: str) -> list[str]:
    """Split `name:c1:c2(x:y)` on ':' outside parentheses (regex constraints may contain ':')."""
    items: list[str] = []
    current: list[str] = []
    depth = 0
    for ch in body:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(0, depth - 1)
        if ch == ":" and depth == 0:
            items.append("".join(current))
            current = []
        else:
            current.append(ch)
    items.append("".join(current))
    return items


def _parse_parameter(body: str, template: str) -> Parameter:
    body = body.replace("{{", "{").replace("}}", "}")
    catch_all = body.startswith("*")
    body = body.lstrip("*")
    default: str | None = None
    optional = False
    head, *constraints = _split_constraints(body)
    if constraints:
        last = constraints[-1]
        if "=" in last and not last.endswith(")"):
            constraints[-1], default = last.split("=", 1)
        elif last.endswith("?"):
            constraints[-1], optional = last[:-1], True
    if "=" in head:
        head, default = head.split("=", 1)
    if head.endswith("?"):
        head, optional = head[:-1], True
    if not re.fullmatch(r"[A-Za-z_][\w-]*", head):
        raise RouteTemplateError(f"route {template!r}: bad parameter name {head!r}")
    for c in constraints:
        _constraint_check(c, template)
    return Parameter(
        head, optional or catch_all or default is not None, catch_all, default, tuple(constraints)
    )


def _parse_segment(text: str, template: str) -> Segment:
    parts: list[str | Parameter] = []
    literal: list[str] = []
    i = 0
    while i < len(text):
        if text.startswith("{{", i) or text.startswith("}}", i):
            literal.append(text[i])
            i += 2
            continue
        if text[i] == "{":
            end, depth = i, 0
            while end < len(text):
                if text[end] == "{":
                    depth += 1
                elif text[end] == "}":
                    depth -= 1
                    if depth == 0:
                        break
                end += 1
            if literal:
                parts.append("".join(literal))
                literal = []
            if parts and isinstance(parts[-1], Parameter):
                raise RouteTemplateError(
                    f"route {template!r}: two parameters in a segment need literal text between them"
                )
            parts.append(_parse_parameter(text[i + 1 : end], template))
            i = end + 1
            continue
        literal.append(text[i])
        i += 1
    if literal:
        parts.append("".join(literal))
    return Segment(tuple(parts))


@dataclass(frozen=True)
class RouteTemplate:
    template: str
    segments: tuple[Segment, ...]
    _regex: re.Pattern[str] = field(repr=False, compare=False)
    _groups: tuple[tuple[str, Parameter], ...] = field(repr=False, compare=False)
    _checks: dict[str, tuple[Callable[[str], bool], ...]] = field(repr=False, compare=False)

    @property
    def precedence(self) -> tuple[int, ...]:
        """Lower sorts first: literal 1, multi-part 2, constrained parameter 3, parameter 4, catch-all 5."""
        digits = []
        for seg in self.segments:
            param = seg.single_parameter
            if seg.is_literal:
                digits.append(1)
            elif param is None:
                digits.append(2)
            elif param.catch_all:
                digits.append(5)
            else:
                digits.append(3 if param.constraints else 4)
        return tuple(digits)

    def match(self, raw_path: str) -> dict[str, str] | None:
        """Route values for a raw (still percent-encoded) path relative to the route prefix, or None."""
        path = raw_path.strip("/")
        m = self._regex.fullmatch(path)
        if m is None:
            return None
        values: dict[str, str] = {}
        for group, param in self._groups:
            raw = m.group(group)
            if raw is None or raw == "":
                if param.default is not None:
                    values[param.name] = param.default
                continue
            value = unquote(raw)
            if not all(check(value) for check in self._checks[param.name]):
                return None
            values[param.name] = value
        return values


def parse_route(template: str) -> RouteTemplate:
    text = template.strip().strip("/")
    if text.startswith("~"):
        raise RouteTemplateError(f"route {template!r}: '~' routes are not supported")
    raw_segments = _split_outside_braces(text, "/", template) if text else []
    segments = tuple(_parse_segment(s, template) for s in raw_segments)
    for idx, seg in enumerate(segments):
        if not seg.parts:
            raise RouteTemplateError(f"route {template!r}: empty segment")
        for part in seg.parts:
            if isinstance(part, Parameter) and part.catch_all and idx != len(segments) - 1:
                raise RouteTemplateError(f"route {template!r}: a catch-all parameter must be last")
    pattern: list[str] = []
    groups: list[tuple[str, Parameter]] = []
    checks: dict[str, tuple[Callable[[str], bool], ...]] = {}
    names: set[str] = set()
    for idx, seg in enumerate(segments):
        slash = "/" if idx else ""
        param = seg.single_parameter
        if param is not None:
            group = f"g{len(groups)}"
            body = ".*" if param.catch_all else "[^/]+"
            piece = f"(?P<{group}>{body})"
            pattern.append(f"(?:{slash}{piece})?" if param.optional else f"{slash}{piece}")
            groups.append((group, param))
        else:
            regex = []
            for part in seg.parts:
                if isinstance(part, str):
                    regex.append(re.escape(part))
                else:
                    group = f"g{len(groups)}"
                    regex.append(f"(?P<{group}>[^/]+)" if not part.optional else f"(?P<{group}>[^/]*)")
                    groups.append((group, part))
            pattern.append(slash + "".join(regex))
    for _, p in groups:
        if p.name.lower() in names:
            raise RouteTemplateError(f"route {template!r}: parameter {p.name!r} appears twice")
        names.add(p.name.lower())
        checks[p.name] = tuple(_constraint_check(c, template) for c in p.constraints)
    compiled = re.compile("".join(pattern), re.IGNORECASE | re.DOTALL)
    return RouteTemplate(template, segments, compiled, tuple(groups), checks)
