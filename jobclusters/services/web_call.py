"""One HTTP call for WebActivity. Errors name the method, the URL without its query and the status,
never a header (headers carry keys and tokens)."""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests

#: the most bytes of an answer kept (ADF's limit on an activity's output is 4 MB)
MAX_ANSWER_BYTES = 4 * 1024 * 1024


class WebCallError(RuntimeError):
    pass


@dataclass(frozen=True)
class WebAnswer:
    status: int
    body: Any


def _link_local(host: str) -> bool:
    """The cloud instance-metadata and managed-identity endpoints live there: a job definition must not
    reach the app's own identity through a WebActivity."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_link_local
    except ValueError:
        return False


def shown_url(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.hostname or "", parts.path, "", ""))


def call(method: str, url: str, headers: dict[str, str], body: Any, timeout_seconds: float) -> WebAnswer:
    """The JSON answer of a 2xx response (text that is not JSON is returned as text)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise WebCallError(f"{method} {shown_url(url)}: only http and https URLs can be called")
    if _link_local(parts.hostname or ""):
        raise WebCallError(
            f"{method} {shown_url(url)}: link-local addresses (instance metadata) are not called"
        )
    data = None if body is None else (body if isinstance(body, str) else json.dumps(body))
    sent = dict(headers)
    if data is not None and not any(k.lower() == "content-type" for k in sent):
        sent["Content-Type"] = "application/json"
    where = f"{method} {shown_url(url)}"
    try:
        response = requests.request(
            method, url, headers=sent, data=data, timeout=timeout_seconds, stream=True
        )
        raw = response.raw.read(MAX_ANSWER_BYTES + 1, decode_content=True)
    except requests.Timeout as exc:
        raise WebCallError(f"{where}: no answer within {timeout_seconds:g} s") from exc
    except requests.RequestException as exc:
        raise WebCallError(f"{where}: {type(exc).__name__}") from exc
    if len(raw) > MAX_ANSWER_BYTES:
        raise WebCallError(f"{where}: the answer is larger than {MAX_ANSWER_BYTES} bytes")
    text = raw.decode(response.encoding or "utf-8", errors="replace")
    if not 200 <= response.status_code < 300:
        raise WebCallError(f"{where} answered {response.status_code}: {text[:300]}")
    try:
        parsed: Any = json.loads(text) if text.strip() else None
    except json.JSONDecodeError:
        parsed = text
    return WebAnswer(response.status_code, parsed)
