"""Wall-clock or virtual time; in virtual time, the engine jumps to the next due timer when it is idle."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class Clock:
    def __init__(self, virtual: bool = False) -> None:
        self.virtual = virtual
        self._offset = timedelta(0)
        self._last = datetime.now(UTC)

    def now(self) -> datetime:
        moment = datetime.now(UTC) + self._offset
        # History timestamps must never go backwards, even if the wall clock does.
        if moment < self._last:
            moment = self._last
        self._last = moment
        return moment

    def seconds_until(self, moment: datetime) -> float:
        return (moment - self.now()).total_seconds()

    def jump_to(self, moment: datetime) -> None:
        if not self.virtual:
            return
        gap = moment - self.now()
        if gap > timedelta(0):
            self._offset += gap
