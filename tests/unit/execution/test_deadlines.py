"""An Until's deadline as every task inside it keeps it: time left, capped timeouts, nested Untils."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from jobclusters.execution.deadlines import capped, earliest, seconds_left
from jobclusters.spec.model import Task

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def _task(timeout: int | None) -> Task:
    return Task.model_validate(
        {"key": "t", "payload": {"kind": "command", "command_line": "true"}, "timeout_seconds": timeout}
    )


@pytest.mark.parametrize(
    ("deadline", "left"),
    [(None, None), ("2026-01-01T12:10:00+00:00", 600.0), ("2026-01-01T11:59:30+00:00", -30.0)],
)
def test_seconds_left_to_the_deadline(deadline: str | None, left: float | None) -> None:
    assert seconds_left(deadline, NOW) == left


@pytest.mark.parametrize(
    ("timeout", "left", "kept"),
    [
        (None, None, None),  # no deadline: the task as it is
        (None, 600.0, 600),  # no timeout of its own: the time left becomes it
        (3600, 600.0, 600),  # a longer one is cut to the time left
        (60, 600.0, 60),  # a shorter one stays
        (3600, 0.2, 1),  # a fraction of a second left: at least 1 s (0 would mean no timeout)
        (3600, 12.5, 13),
    ],
)
def test_a_task_keeps_its_timeout_within_the_time_left(
    timeout: int | None, left: float | None, kept: int | None
) -> None:
    assert capped(_task(timeout), left).timeout_seconds == kept


def test_a_nested_until_keeps_the_earlier_deadline() -> None:
    inner, outer = "2026-01-01T12:10:00+00:00", "2026-01-01T12:05:00+00:00"
    assert earliest(inner, outer) == earliest(outer, inner) == outer
    assert earliest(inner, None) == inner
    assert earliest(None, None) is None
