"""The strict JSON reader both request paths (HTTP, Service Bus) use."""

from __future__ import annotations

import pytest

from jobclusters.request_limits import MAX_IDEMPOTENCY_KEY, MAX_JSON_DEPTH, JsonInputError, load_json
from triggers.job_request import InvalidJobRequest, parse_job_request


@pytest.mark.parametrize(
    ("text", "path", "code"),
    [
        ('{"parameters": {"a": NaN}}', "$.parameters.a", "number"),
        ('{"parameters": {"a": [1, Infinity]}}', "$.parameters.a[1]", "number"),
        ('{"a": -Infinity}', "$.a", "number"),
        ("[" * 100_000 + "]" * 100_000, "$", "depth"),
        ('{"idempotency_key": "' + "k" * (MAX_IDEMPOTENCY_KEY + 1) + '"}', "$.idempotency_key", "too-long"),
        ('{"reason": "' + "r" * 1025 + '"}', "$.reason", "too-long"),
    ],
)
def test_refused_documents_name_the_path(text: str, path: str, code: str) -> None:
    with pytest.raises(JsonInputError) as caught:
        load_json(text)
    assert caught.value.path.startswith(path) and caught.value.code == code


def test_nesting_up_to_the_limit_is_read() -> None:
    depth = MAX_JSON_DEPTH - 1
    assert load_json("[" * depth + "]" * depth) is not None
    with pytest.raises(JsonInputError):
        load_json("[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1))


def test_the_service_bus_path_refuses_the_same_documents() -> None:
    with pytest.raises(InvalidJobRequest, match=r"\$\.parameters\.n: NaN is not a JSON number"):
        parse_job_request(b'{"job": "j", "parameters": {"n": NaN}}')
    with pytest.raises(InvalidJobRequest, match=r"\$\.idempotency_key"):
        parse_job_request('{"job": "j", "idempotency_key": "' + "k" * (MAX_IDEMPOTENCY_KEY + 1) + '"}')
