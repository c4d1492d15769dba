"""Failure text as callers may see it: no Python traceback, no path on the server.

Activity failures reach orchestrators as the reason plus the traceback; the log keeps those, while the API
answers and the Table rows keep one readable line per cause.
"""

from __future__ import annotations

import re

_FRAME = re.compile(r'^\s*File "[^"]*", line \d+')
_PATH = re.compile(r"(?<![\w:/.~-])(?:/[\w.@+-]+){2,}/?")


def public_message(text: str | None) -> str | None:
    """`text` cut before any traceback, with server paths (`/a/b/c`) reduced to `…/c`."""
    if text is None:
        return None
    kept: list[str] = []
    for line in text.splitlines():
        if line.lstrip().startswith("Traceback (most recent call last)") or _FRAME.match(line):
            break
        kept.append(line)
    short = "\n".join(kept).strip()
    if not short and text.strip():
        short = text.strip().splitlines()[-1].strip()  # only a traceback: its last line names the error
    return _PATH.sub(lambda m: "…/" + m.group(0).rstrip("/").rsplit("/", 1)[-1], short)
