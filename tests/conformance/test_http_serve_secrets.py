"""What `start` keeps out of logs: keys, secret-named settings, key parts of connection strings."""

from __future__ import annotations

import io
import logging

from devhost.http.auth import HostKeys
from devhost.http.redact import SecretScrubber, redact_target
from devhost.serve import secret_values

SETTINGS = {
    "DEVHOST_MASTER_KEY": "master-abcdef123",
    "MY_API_TOKEN": "tok_0123456789",
    "MAX_TOKENS": "1000",
    "AzureWebJobsStorage": "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=c2VjcmV0a2V5==;",
    "SERVICEBUS": "Endpoint=sb://x/;SharedAccessKeyName=root;SharedAccessKey=sbkey0123456",
    "PLAIN": "visible-value",
}


def test_secret_values_cover_keys_secret_settings_and_connection_string_parts() -> None:
    values = secret_values(SETTINGS, HostKeys.from_settings(SETTINGS))
    assert "master-abcdef123" in values
    assert "tok_0123456789" in values
    assert "c2VjcmV0a2V5==" in values
    assert "sbkey0123456" in values
    assert "1000" not in values
    assert "visible-value" not in values


def test_scrubber_masks_secrets_in_messages_arguments_and_tracebacks() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(SecretScrubber(secret_values(SETTINGS, HostKeys.from_settings(SETTINGS))))
    log = logging.getLogger("devhost.test_scrubber")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.error("connecting with %s", SETTINGS["AzureWebJobsStorage"])
        try:
            raise RuntimeError("bad token tok_0123456789")
        except RuntimeError:
            log.exception("failed")
    finally:
        log.removeHandler(handler)
    text = stream.getvalue()
    assert "AccountKey=***" in text
    assert "tok_0123456789" not in text
    assert "bad token ***" in text


def test_request_targets_lose_code_values_and_hidden_path_parts() -> None:
    assert redact_target("/api/x", "code=abc&y=1") == "/api/x?code=***&y=1"
    assert redact_target("/_devhost/rpc/tok123/durabletask/instances/", "", ["tok123"]) == (
        "/_devhost/rpc/***/durabletask/instances/"
    )
