"""A clock moved by hand (tests, the demo): time is a parameter (DESIGN.md)."""

from __future__ import annotations

import datetime as dt


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
