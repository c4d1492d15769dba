"""ADF / Synapse pipeline expressions: a small parser and a pure evaluator.

Covers what pipelines use day to day: `pipeline().parameters.x`, `pipeline().RunId`, `variables('v')`,
`activity('a').output.x`, `item()`, `utcnow()`, `formatDateTime()`, `concat()` and the common string,
logic, math and date functions. The clock is whatever the caller passes in (`now`), never the system's.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any


class ExpressionError(ValueError):
    """A syntax error or an evaluation error in one expression."""


# ------------------------------------------------------------------ syntax tree


@dataclass(frozen=True)
class Literal:
    value: Any


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Node, ...]


@dataclass(frozen=True)
class Member:
    target: Node
    name: str | Node  # `.name` or `[expr]`


Node = Literal | Call | Member

_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<num>-?\d+(?:\.\d+)?)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op>\?\.|[().,\[\]]))"
)


def _tokens(text: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if match is None:
            raise ExpressionError(f"unexpected {text[pos:].strip()[:20]!r} at column {pos + 1}")
        kind = match.lastgroup or ""
        found.append((kind, match.group(kind)))
        pos = match.end()
    return found


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.pos = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise ExpressionError(f"unexpected end of expression {self.text!r}")
        if value is not None and token[1] != value:
            raise ExpressionError(f"expected {value!r} but found {token[1]!r} in {self.text!r}")
        self.pos += 1
        return token

    def parse(self) -> Node:
        node = self.expression()
        if self.peek() is not None:
            raise ExpressionError(f"unexpected {self.peek()[1]!r} in {self.text!r}")  # type: ignore[index]
        return node

    def expression(self) -> Node:
        node = self.primary()
        while (token := self.peek()) is not None and token[1] in {".", "?.", "["}:
            self.take()
            if token[1] == "[":
                index = self.expression()
                self.take("]")
                node = Member(node, index)
            else:
                kind, name = self.take()
                if kind != "name":
                    raise ExpressionError(f"expected a property name after '.', found {name!r}")
                node = Member(node, name)
        return node

    def primary(self) -> Node:
        kind, value = self.take()
        if kind == "str":
            return Literal(value[1:-1].replace("''", "'"))
        if kind == "num":
            return Literal(float(value) if "." in value else int(value))
        if kind != "name":
            raise ExpressionError(f"unexpected {value!r} in {self.text!r}")
        if (token := self.peek()) is not None and token[1] == "(":
            self.take("(")
            args: list[Node] = []
            if (nxt := self.peek()) is not None and nxt[1] == ")":
                self.take(")")
                return Call(value, ())
            while True:
                args.append(self.expression())
                sep = self.take()[1]
                if sep == ")":
                    return Call(value, tuple(args))
                if sep != ",":
                    raise ExpressionError(f"expected ',' or ')' but found {sep!r} in {self.text!r}")
        if value in {"true", "false"}:
            return Literal(value == "true")
        if value == "null":
            return Literal(None)
        raise ExpressionError(f"{value!r} is not a function call or a literal in {self.text!r}")


def parse(text: str) -> Node:
    return _Parser(text).parse()


# ------------------------------------------------------------------ interpolation


def split_interpolation(text: str) -> list[tuple[bool, str]]:
    """`"a @{x} b"` -> [(False, "a "), (True, "x"), (False, " b")]; braces inside quotes are text."""
    parts: list[tuple[bool, str]] = []
    pos = 0
    while True:
        start = text.find("@{", pos)
        if start < 0:
            parts.append((False, text[pos:]))
            return [p for p in parts if p[1] or p[0]]
        parts.append((False, text[pos:start]))
        depth, i, quoted = 1, start + 2, False
        while i < len(text) and depth:
            ch = text[i]
            if ch == "'":
                quoted = not quoted
            elif not quoted and ch == "{":
                depth += 1
            elif not quoted and ch == "}":
                depth -= 1
            i += 1
        if depth:
            raise ExpressionError(f"unclosed '@{{' in {text!r}")
        parts.append((True, text[start + 2 : i - 1]))
        pos = i


# ------------------------------------------------------------------ evaluation


@dataclass(frozen=True)
class Scope:
    """What `pipeline()`, `variables()`, `activity()`, `item()` and `utcnow()` see."""

    parameters: Mapping[str, Any]
    variables: Mapping[str, Any]
    activity_outputs: Mapping[str, Any]
    pipeline: Mapping[str, Any]
    now: datetime | None
    item: Any = None
    has_item: bool = False


def iso_timestamp(ts: datetime) -> str:
    ts = ts.astimezone(UTC) if ts.tzinfo else ts.replace(tzinfo=UTC)
    return ts.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


def _timestamp(value: Any) -> datetime:
    if isinstance(value, datetime):
        ts = value
    else:
        try:
            ts = datetime.fromisoformat(str(value))
        except ValueError as exc:
            raise ExpressionError(f"{value!r} is not a timestamp") from exc
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


_DOTNET = re.compile(
    r"'[^']*'|\"[^\"]*\"|\\.|yyyy|yy|MMMM|MMM|MM|M|dddd|ddd|dd|d|HH|H|hh|h|mm|m|ss|s|f{1,7}|tt|K|."
)
_STANDARD = {
    "o": "yyyy-MM-ddTHH:mm:ss.fffffffK",
    "O": "yyyy-MM-ddTHH:mm:ss.fffffffK",
    "s": "yyyy-MM-ddTHH:mm:ss",
    "u": "yyyy-MM-dd HH:mm:ssK",
    "d": "M/d/yyyy",
    "D": "dddd, MMMM d, yyyy",
    "t": "h:mm tt",
    "T": "h:mm:ss tt",
}


def format_datetime(ts: datetime, fmt: str = "o") -> str:
    """.NET custom and common standard date format strings, as ADF's formatDateTime takes them."""
    pattern = _STANDARD.get(fmt, fmt)
    out: list[str] = []
    for token in _DOTNET.findall(pattern):
        if token[0] in "'\"":
            out.append(token[1:-1])
        elif token.startswith("\\"):
            out.append(token[1:])
        elif token[0] == "f":
            out.append(f"{ts.microsecond:06d}0"[: len(token)])
        else:
            out.append(_date_part(ts, token))
    return "".join(out)


def _date_part(ts: datetime, token: str) -> str:
    hour12 = ts.hour % 12 or 12
    parts: dict[str, str] = {
        "yyyy": f"{ts.year:04d}",
        "yy": f"{ts.year % 100:02d}",
        "MMMM": ts.strftime("%B"),
        "MMM": ts.strftime("%b"),
        "MM": f"{ts.month:02d}",
        "M": str(ts.month),
        "dddd": ts.strftime("%A"),
        "ddd": ts.strftime("%a"),
        "dd": f"{ts.day:02d}",
        "d": str(ts.day),
        "HH": f"{ts.hour:02d}",
        "H": str(ts.hour),
        "hh": f"{hour12:02d}",
        "h": str(hour12),
        "mm": f"{ts.minute:02d}",
        "m": str(ts.minute),
        "ss": f"{ts.second:02d}",
        "s": str(ts.second),
        "tt": "AM" if ts.hour < 12 else "PM",
        "K": "Z" if ts.utcoffset() == timedelta(0) else ts.strftime("%z"),
    }
    return parts.get(token, token)


def as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return "" if value is None else str(value)


def _add(unit: str) -> Callable[..., str]:
    def add(ts: Any, amount: Any, fmt: str = "o") -> str:
        return format_datetime(_timestamp(ts) + timedelta(**{unit: float(amount)}), fmt)

    return add


def _num(value: Any) -> int | float:
    if isinstance(value, bool):
        raise ExpressionError("expected a number, got a boolean")
    number = float(value)
    return int(number) if number.is_integer() else number


_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "concat": lambda *a: "".join(as_text(x) for x in a),
    "formatDateTime": lambda ts, fmt="o": format_datetime(_timestamp(ts), fmt),
    "addDays": _add("days"),
    "addHours": _add("hours"),
    "addMinutes": _add("minutes"),
    "addSeconds": _add("seconds"),
    "startOfDay": lambda ts, fmt="o": format_datetime(
        _timestamp(ts).replace(hour=0, minute=0, second=0, microsecond=0), fmt
    ),
    "string": as_text,
    "int": lambda x: int(float(x)),
    "float": lambda x: float(x),
    "bool": lambda x: str(x).lower() in {"true", "1"} if isinstance(x, str) else bool(x),
    "json": lambda x: json.loads(x) if isinstance(x, str) else x,
    "toLower": lambda x: as_text(x).lower(),
    "toUpper": lambda x: as_text(x).upper(),
    "trim": lambda x: as_text(x).strip(),
    "replace": lambda x, old, new: as_text(x).replace(as_text(old), as_text(new)),
    "substring": lambda x, start, length=None: as_text(x)[
        int(start) : None if length is None else int(start) + int(length)
    ],
    "split": lambda x, sep: as_text(x).split(as_text(sep)),
    "join": lambda items, sep: as_text(sep).join(as_text(i) for i in items),
    "length": lambda x: len(x),
    "empty": lambda x: x is None or len(x) == 0,
    "contains": lambda x, item: item in x,
    "startsWith": lambda x, p: as_text(x).startswith(as_text(p)),
    "endsWith": lambda x, p: as_text(x).endswith(as_text(p)),
    "coalesce": lambda *a: next((x for x in a if x is not None), None),
    "createArray": lambda *a: list(a),
    "equals": lambda a, b: a == b,
    "not": lambda a: not a,
    "and": lambda *a: all(a),
    "or": lambda *a: any(a),
    "if": lambda cond, yes, no: yes if cond else no,
    "greater": lambda a, b: _num(a) > _num(b),
    "greaterOrEquals": lambda a, b: _num(a) >= _num(b),
    "less": lambda a, b: _num(a) < _num(b),
    "lessOrEquals": lambda a, b: _num(a) <= _num(b),
    "add": lambda a, b: _num(a) + _num(b),
    "sub": lambda a, b: _num(a) - _num(b),
    "mul": lambda a, b: _num(a) * _num(b),
    "div": lambda a, b: _num(a) / _num(b),
    "mod": lambda a, b: _num(a) % _num(b),
    "min": lambda *a: min(_num(x) for x in (a[0] if len(a) == 1 else a)),
    "max": lambda *a: max(_num(x) for x in (a[0] if len(a) == 1 else a)),
}

#: functions that read the scope rather than their arguments
CONTEXT_FUNCTIONS = frozenset({"pipeline", "variables", "activity", "item", "utcnow", "trigger"})
KNOWN_FUNCTIONS = frozenset(_FUNCTIONS) | CONTEXT_FUNCTIONS
PIPELINE_PROPERTIES = frozenset(
    {
        "parameters",
        "RunId",
        "Pipeline",
        "DataFactory",
        "TriggerTime",
        "TriggerType",
        "TriggerId",
        "TriggerName",
        "GroupId",
        "TriggeredByPipelineName",
        "TriggeredByPipelineRunId",
    }
)


def evaluate(node: Node, scope: Scope) -> Any:
    if isinstance(node, Literal):
        return node.value
    if isinstance(node, Member):
        target = evaluate(node.target, scope)
        name = evaluate(node.name, scope) if not isinstance(node.name, str) else node.name
        return _member(target, name)
    return _call(node, scope)


def _member(target: Any, name: Any) -> Any:
    if isinstance(target, list):
        try:
            return target[int(name)]
        except (ValueError, IndexError) as exc:
            raise ExpressionError(f"no item [{name}] in a list of {len(target)}") from exc
    if isinstance(target, Mapping):
        if name in target:
            return target[name]
        raise ExpressionError(f"no property {name!r} (has: {', '.join(map(str, target)) or 'none'})")
    raise ExpressionError(f"cannot read property {name!r} of {type(target).__name__}")


def _call(node: Call, scope: Scope) -> Any:
    name = node.name
    if name == "pipeline":
        return {**scope.pipeline, "parameters": dict(scope.parameters)}
    if name == "utcnow":
        if scope.now is None:
            raise ExpressionError("utcnow() needs the run's clock, which this context does not give")
        if node.args:
            return format_datetime(_timestamp(scope.now).astimezone(UTC), evaluate(node.args[0], scope))
        return iso_timestamp(scope.now)
    if name == "item":
        if not scope.has_item:
            raise ExpressionError("item() is only defined inside a ForEach")
        return scope.item
    args = [evaluate(a, scope) for a in node.args]
    if name == "variables":
        return _lookup(scope.variables, args, "variable")
    if name == "activity":
        return {"output": _lookup(scope.activity_outputs, args, "activity output for")}
    if name == "trigger":
        started = iso_timestamp(scope.now) if scope.now else None
        return {"startTime": started, **scope.pipeline.get("trigger", {})}
    function = _FUNCTIONS.get(name)
    if function is None:
        raise ExpressionError(f"unknown function {name}()")
    try:
        return function(*args)
    except ExpressionError:
        raise
    except (TypeError, ValueError, KeyError, ZeroDivisionError) as exc:
        raise ExpressionError(f"{name}(): {exc}") from exc


def _lookup(table: Mapping[str, Any], args: list[Any], what: str) -> Any:
    if len(args) != 1 or not isinstance(args[0], str):
        raise ExpressionError(f"expected one quoted name, got {args!r}")
    if args[0] not in table:
        raise ExpressionError(f"no {what} {args[0]!r}")
    return table[args[0]]


def walk(node: Node) -> list[Node]:
    """Every node of the tree, parents before children."""
    found: list[Node] = [node]
    if isinstance(node, Call):
        for arg in node.args:
            found.extend(walk(arg))
    elif isinstance(node, Member):
        found.extend(walk(node.target))
        if not isinstance(node.name, str):
            found.extend(walk(node.name))
    return found
