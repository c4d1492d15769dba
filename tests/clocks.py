"""A clock for code that takes an injected `clock` and `sleep`: time moves only by the sleeps it asks for,
so tests assert the waits without waiting."""

from __future__ import annotations


class SleepClock:
    def __init__(self, start: float = 0.0) -> None:
        self.t = start
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds
