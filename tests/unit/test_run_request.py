"""The cancel message a user reads in `status` and `runs` once a cancel event stopped a run."""

from __future__ import annotations

from typing import Any

import pytest

from jobclusters.run_request import cancel_message


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"reason": "wrong input", "actor": "alice"}, "canceled by alice: wrong input"),
        ({"reason": "wrong input", "actor": None}, "canceled: wrong input"),
        ({"reason": None, "actor": "alice"}, "canceled by alice"),
        ({"reason": None, "actor": None}, "canceled by request"),
        ({}, "canceled by request"),
        ({"reason": "  ", "actor": ""}, "canceled by request"),
        ("stop it", "canceled: stop it"),
        (None, "canceled by request"),
        ("", "canceled by request"),
    ],
)
def test_the_cancel_event_becomes_one_line_naming_who_and_why(data: Any, expected: str) -> None:
    assert cancel_message(data) == expected


def test_the_message_never_shows_a_python_dict() -> None:
    message = cancel_message({"reason": "x", "actor": None})
    assert "{" not in message and "'" not in message
