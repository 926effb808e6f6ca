"""A clock moved by hand (tests, the demo): time is a parameter (DESIGN.md)."""

from __future__ import annotations

import asyncio
import datetime as dt


def system_clock() -> dt.datetime:
    """The real time, timezone-aware UTC."""
    return dt.datetime.now(dt.UTC)


class ManualClock:
    """Returns the time it was set to, always timezone-aware UTC."""

    def __init__(self, start: dt.datetime) -> None:
        self.current = start.astimezone(dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.current

    def set(self, when: dt.datetime) -> None:
        self.current = when.astimezone(dt.UTC)

    def advance(self, **delta: float) -> dt.datetime:
        self.current += dt.timedelta(**delta)
        return self.current


class ManualMonotonic:
    """A monotonic clock that moves only when advanced or slept on: waits take no real time.

    `sleep` is a drop-in for asyncio.sleep: it first lets the tasks that are ready run (a send
    just started reaches the Bot API at the time it was paced for), then moves the clock by the
    delay, so a paced sender runs its whole schedule at once, in the same order.
    """

    def __init__(self, start: float = 1000.0) -> None:
        self.current = start
        self.slept = 0.0  # total seconds waited through sleep()

    def __call__(self) -> float:
        return self.current

    def advance(self, seconds: float) -> float:
        """Move the clock forward by `seconds`."""
        self.current += max(0.0, seconds)
        return self.current

    async def sleep(self, seconds: float) -> None:
        """Let ready tasks run, move the clock forward by `seconds`, let them run again."""
        await asyncio.sleep(0)
        seconds = max(0.0, seconds)
        self.slept += seconds
        self.advance(seconds)
        await asyncio.sleep(0)
