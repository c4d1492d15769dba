"""A sql_task on the local cluster: the text's statements one after another through Spark SQL, with the
task's parameters as named `:name` markers; each query's rows are printed (the task's log), at most
`SHOWN_ROWS` of each."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

SHOWN_ROWS = 100


def split_statements(text: str) -> list[str]:
    """Statements separated by `;` outside quotes and `--` comments; empty ones dropped."""
    statements: list[str] = []
    current: list[str] = []
    quote: str | None = None
    i = 0
    while i < len(text):
        ch = text[i]
        if quote is None and text.startswith("--", i):
            end = text.find("\n", i)
            i = len(text) if end < 0 else end
            continue
        if quote is not None:
            if ch == quote:
                quote = None
        elif ch in ("'", '"', "`"):
            quote = ch
        elif ch == ";":
            statements.append("".join(current))
            current = []
            i += 1
            continue
        current.append(ch)
        i += 1
    statements.append("".join(current))
    return [s.strip() for s in statements if s.strip()]


def run_sql(spark: Any, text: str, parameters: Mapping[str, str]) -> Iterator[str]:
    for statement in split_statements(text):
        used = {k: v for k, v in parameters.items() if f":{k}" in statement}
        frame = spark.sql(statement, args=used) if used else spark.sql(statement)
        columns = list(frame.columns)
        if not columns:
            continue
        yield " | ".join(columns)
        for row in frame.limit(SHOWN_ROWS).collect():
            yield " | ".join("NULL" if v is None else str(v) for v in row)
