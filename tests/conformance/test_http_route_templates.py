"""Route templates match like the Functions host's ASP.NET routing."""

from __future__ import annotations

import pytest

from devhost.http.routes import RouteTemplateError, parse_route


@pytest.mark.parametrize(
    ("template", "path", "expected"),
    [
        ("hello/{name}", "hello/ada", {"name": "ada"}),
        ("hello/{name}", "HELLO/Ada/", {"name": "Ada"}),
        ("hello/{name}", "hello", None),
        ("hello/{name}", "hello/a/b", None),
        ("n/{n:int}", "n/-12", {"n": "-12"}),
        ("n/{n:int}", "n/99999999999", None),
        ("n/{n:long}", "n/99999999999", {"n": "99999999999"}),
        ("n/{n:int:range(1,5)}", "n/6", None),
        ("n/{n:min(3)}", "n/3", {"n": "3"}),
        ("b/{flag:bool}", "b/True", {"flag": "True"}),
        (
            "g/{id:guid}",
            "g/0f8fad5b-d9cb-469f-a165-70867728950e",
            {"id": "0f8fad5b-d9cb-469f-a165-70867728950e"},
        ),
        ("g/{id:guid}", "g/nope", None),
        ("s/{s:alpha:maxlength(3)}", "s/abc", {"s": "abc"}),
        ("s/{s:alpha:maxlength(3)}", "s/abcd", None),
        ("s/{s:length(2,3)}", "s/a", None),
        ("r/{code:regex(^[a-z]{{2}}\\d$)}", "r/ab1", {"code": "ab1"}),
        ("r/{code:regex(^[a-z]{{2}}\\d$)}", "r/abc", None),
        ("d/{when:datetime}", "d/2026-01-02T03:04:05", {"when": "2026-01-02T03:04:05"}),
        ("opt/{id?}", "opt", {}),
        ("opt/{id:int?}", "opt/x", None),
        ("def/{page=1}", "def", {"page": "1"}),
        ("all/{*rest}", "all", {}),
        ("all/{*rest}", "all/a/b%2Fc", {"rest": "a/b/c"}),
        ("{file}.{ext}", "report.tar.gz", {"file": "report.tar", "ext": "gz"}),
        ("enc/{v}", "enc/a%20b", {"v": "a b"}),
        ("", "", {}),
    ],
)
def test_template_matching(template: str, path: str, expected: dict[str, str] | None) -> None:
    assert parse_route(template).match(path) == expected


def test_more_specific_templates_sort_first() -> None:
    templates = ["items/{*rest}", "items/{name}", "items/{id:int}", "items/special", "items/{a}.{b}"]
    ordered = sorted(templates, key=lambda t: parse_route(t).precedence)
    assert ordered == ["items/special", "items/{a}.{b}", "items/{id:int}", "items/{name}", "items/{*rest}"]


@pytest.mark.parametrize(
    ("template", "fragment"),
    [
        ("a/{n:integer}", "unknown constraint 'integer'"),
        ("a/{n:min(x)}", "expects integer arguments"),
        ("a/{n:regex(()}", "bad regex"),
        ("a/{n", "unbalanced"),
        ("a/{*rest}/b", "catch-all parameter must be last"),
        ("a/{x}{y}", "literal text between them"),
        ("a/{x}/{X}", "appears twice"),
        ("a//b", "empty segment"),
        ("a/{1bad}", "bad parameter name"),
    ],
)
def test_bad_templates_are_rejected_naming_the_template_and_the_problem(template: str, fragment: str) -> None:
    with pytest.raises(RouteTemplateError) as info:
        parse_route(template)
    assert repr(template) in str(info.value)
    assert fragment in str(info.value)
