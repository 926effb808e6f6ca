"""Reporting periods: 'YYYY-MM' names a calendar month (local time, Asia/Jakarta).

Rule (shared with the monthly cycle, bot/services/cycle.py): period P covers the calendar month P and is
reported in the month after it. It opens at 00:00 local on day 1 of the following month and is
on time until the end of the close day (`Settings.cycle.close_day`, default 20) of that
following month; a report after that is accepted and marked late.

Pure functions: every one takes the instant and time zone it needs; nothing reads the clock.
"""

from __future__ import annotations

import datetime as dt
import re

_PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


class PeriodError(ValueError):
    """A text that is not a period 'YYYY-MM'."""


def parse_period(period: str) -> tuple[int, int]:
    """'2024-01' -> (2024, 1); PeriodError (a ValueError) for anything else."""
    m = _PERIOD.match(period or "")
    if not m:
        raise PeriodError(f"not a period (YYYY-MM): {period!r}")
    return int(m.group(1)), int(m.group(2))


def is_period(text: str) -> bool:
    """Whether the text is a period 'YYYY-MM'."""
    return bool(_PERIOD.match(text or ""))


def make_period(year: int, month: int) -> str:
    """(2025, 1) -> '2025-01'."""
    return f"{year:04d}-{month:02d}"


def next_period(period: str) -> str:
    """'2024-12' -> '2025-01'."""
    year, month = parse_period(period)
    return make_period(year + month // 12, month % 12 + 1)


def prev_period(period: str) -> str:
    """'2024-01' -> '2023-12'."""
    year, month = parse_period(period)
    return make_period(year - (month == 1), 12 if month == 1 else month - 1)


def month_of(now: dt.datetime, tz: dt.tzinfo) -> str:
    """The calendar month `now` falls in, locally ('2024-02' for 1 Feb 2024 08:00 WIB)."""
    local = now.astimezone(tz)
    return make_period(local.year, local.month)


def period_of(now: dt.datetime, tz: dt.tzinfo) -> str:
    """The reporting period open at `now`: the calendar month before `now`'s local month."""
    return prev_period(month_of(now, tz))


def period_start(period: str, tz: dt.tzinfo) -> dt.datetime:
    """First instant of the month the period covers (aware, in `tz`)."""
    year, month = parse_period(period)
    return dt.datetime(year, month, 1, tzinfo=tz)


def opens_at(period: str, tz: dt.tzinfo) -> dt.datetime:
    """When reporting on the period opens: 00:00 local on day 1 of the following month."""
    return period_start(next_period(period), tz)


def closes_at(period: str, close_day: int, tz: dt.tzinfo) -> dt.datetime:
    """End of the on-time window: 00:00 local the day after `close_day` of the following month.

    A report submitted at or after this instant is late.
    """
    year, month = parse_period(next_period(period))
    return dt.datetime(year, month, close_day, tzinfo=tz) + dt.timedelta(days=1)


def is_late(period: str, submitted: dt.datetime, close_day: int, tz: dt.tzinfo) -> bool:
    """Whether a report submitted then came after the period closed."""
    return submitted >= closes_at(period, close_day, tz)


def periods_between(first: str, last: str) -> list[str]:
    """Inclusive list of periods from first to last (empty if first > last)."""
    out = []
    current = first
    while current <= last:
        out.append(current)
        current = next_period(current)
    return out


def recent_periods(now: dt.datetime, tz: dt.tzinfo, count: int) -> list[str]:
    """The open period and the `count - 1` before it, newest first (for 'pick the month')."""
    out = [period_of(now, tz)]
    while len(out) < count:
        out.append(prev_period(out[-1]))
    return out


# --- the cycle: offsets, the reporting month, the mentoring window ---------------


def add_periods(period: str, n: int) -> str:
    """The period n months after (n < 0: before)."""
    year, month = parse_period(period)
    index = year * 12 + (month - 1) + n
    return make_period(index // 12, index % 12 + 1)


def period_distance(first: str, last: str) -> int:
    """How many periods from first to last (0 when equal, negative when last is earlier)."""
    y1, m1 = parse_period(first)
    y2, m2 = parse_period(last)
    return (y2 * 12 + m2) - (y1 * 12 + m1)


def reporting_month(period: str) -> tuple[int, int]:
    """(year, month) of the month in which `period` is reported: the month after it."""
    return parse_period(next_period(period))


def reporting_day(period: str, day: int, hour: int, tz: dt.tzinfo) -> dt.datetime:
    """Day `day` (1-28) of the reporting month at `hour`:00 local time, as aware UTC."""
    year, month = reporting_month(period)
    return dt.datetime(year, month, day, hour, tzinfo=tz).astimezone(dt.UTC)


def first_period_after_handover(handover: dt.date) -> str:
    """A recipient's first period: the first full calendar month after the hand-over date.

    Handed over on the 1st: that month is already full, so it is the first period.
    """
    if handover.day == 1:
        return make_period(handover.year, handover.month)
    return next_period(make_period(handover.year, handover.month))


def mentoring_periods_of(handover: dt.date, count: int) -> tuple[str, str]:
    """(first, last) period of a mentoring lasting `count` periods."""
    first = first_period_after_handover(handover)
    return first, add_periods(first, count - 1)
