"""The statements of a sql_task's text: `;` separates them outside quotes and `--` comments."""

from __future__ import annotations

from jobclusters.localshim.sql import split_statements


def test_statements_split_on_semicolons_outside_quotes_and_comments() -> None:
    text = "-- a; comment\nSELECT 'x;y';\nSELECT `a;b` FROM t -- trailing; note\n;\n\n;SELECT \"q;\""
    assert split_statements(text) == ["SELECT 'x;y'", "SELECT `a;b` FROM t", 'SELECT "q;"']
    assert split_statements("  ;  ") == []
