"""The polling helper: first truthy value, async checks, and a failure that says what never happened."""

from __future__ import annotations

import asyncio

import pytest

from tests.eventually import eventually, eventually_async


def test_returns_the_first_truthy_value() -> None:
    answers = iter([None, [], ["ready"]])
    assert eventually(lambda: next(answers), interval=0) == ["ready"]


def test_a_condition_that_never_holds_fails_naming_it_after_one_last_check() -> None:
    calls: list[int] = []
    with pytest.raises(AssertionError, match="waiting for the moon"):
        eventually(lambda: calls.append(1), timeout=0, what="the moon")
    assert calls == [1]


def test_the_async_flavour_awaits_async_checks_and_takes_plain_ones() -> None:
    answers = iter([False, True])

    async def check() -> bool:
        return next(answers)

    async def scenario() -> tuple[object, object]:
        return await eventually_async(check, interval=0), await eventually_async(lambda: 7)

    assert asyncio.run(scenario()) == (True, 7)
