from __future__ import annotations

import pytest

from triggers.job_request import InvalidJobRequest, parse_job_request


def test_a_well_formed_request_is_parsed() -> None:
    message = parse_job_request(
        b'{"job": "daily-sales", "parameters": {"day": "2024-01-01"}, "idempotency_key": "k1"}'
    )
    assert message.job == "daily-sales"
    assert message.parameters == {"day": "2024-01-01"}
    assert message.idempotency_key == "k1"


def test_parameters_and_key_are_optional() -> None:
    message = parse_job_request('{"job": "j"}')
    assert message.parameters == {} and message.idempotency_key is None


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{oops", "$: not valid JSON (line 1 column 2"),
        (b"[1, 2]", "$: expected a JSON object"),
        (b'{"parameters": {}}', "$.job: Field required"),
        (b'{"job": "j", "parameters": [1]}', "$.parameters: Input should be a valid dictionary"),
        (b'{"job": "j", "extra": 1}', "$.extra: unknown field"),
        (b'{"job": "no/slashes"}', "$.job: expected 1-64 letters"),
        (b'{"job": "j", "idempotency_key": ""}', "$.idempotency_key"),
    ],
)
def test_invalid_requests_say_what_is_wrong_and_where(body: bytes, reason: str) -> None:
    with pytest.raises(InvalidJobRequest) as caught:
        parse_job_request(body)
    assert reason in str(caught.value)
