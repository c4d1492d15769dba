"""Keep keys out of logs: request targets lose their `code` values, log records lose every key value."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from urllib.parse import parse_qsl, urlencode

MASK = "***"


def redact_target(raw_path: str, query_string: str, hidden: Iterable[str] = ()) -> str:
    path = raw_path
    for value in hidden:
        if value:
            path = path.replace(value, MASK)
    if not query_string:
        return path
    pairs = [
        (k, MASK if k.lower() == "code" else v) for k, v in parse_qsl(query_string, keep_blank_values=True)
    ]
    return f"{path}?{urlencode(pairs, safe='*,:/{}')}"


class SecretScrubber(logging.Filter):
    """Replaces known secret values in formatted log messages (attach to handlers)."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = tuple(sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True))

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        scrubbed = message
        for secret in self.secrets:
            scrubbed = scrubbed.replace(secret, MASK)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            exc_text = record.exc_text
            for secret in self.secrets:
                exc_text = exc_text.replace(secret, MASK)
            record.exc_text = exc_text
        if scrubbed != message:
            record.msg, record.args = scrubbed, ()
        return True
