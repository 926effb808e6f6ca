"""Reporting periods (pure): a period 'YYYY-MM' is one calendar month in Asia/Jakarta,
reported on in the month after it.

Functions are named after what they answer; all take/return aware datetimes where time
matters and never read the clock.
"""

from __future__ import annotations

import datetime as dt
import re

_PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


class PeriodError(ValueError):
    """A text that is not a period 'YYYY-MM'."""


def parse_period(period: str) -> tuple[int, int]:
    """'2024-01' -> (2024, 1); raises PeriodError on anything else."""
    m = _PERIOD.match(period or "")
    if not m:
        raise PeriodError(f"{period!r} is not a period (YYYY-MM)")
    return int(m.group(1)), int(m.group(2))


def format_period_key(year: int, month: int) -> str:
    return f"{year:04d}-{month:02d}"


def period_of_month(value: dt.date | dt.datetime) -> str:
    """The period a date falls in (its own calendar month)."""
    return format_period_key(value.year, value.month)


def next_period(period: str) -> str:
    year, month = parse_period(period)
    return format_period_key(year + month // 12, month % 12 + 1)


def prev_period(period: str) -> str:
    year, month = parse_period(period)
    return format_period_key(year - (month == 1), 12 if month == 1 else month - 1)


def add_periods(period: str, n: int) -> str:
    year, month = parse_period(period)
    index = year * 12 + (month - 1) + n
    return format_period_key(index // 12, index % 12 + 1)


def periods_between(first: str, last: str) -> int:
    """How many periods from first to last (0 when equal, negative when last is earlier)."""
    y1, m1 = parse_period(first)
    y2, m2 = parse_period(last)
    return (y2 * 12 + m2) - (y1 * 12 + m1)


def period_of(now: dt.datetime, tz: dt.tzinfo) -> str:
    """The period being reported at `now`: the calendar month before now's month (local time)."""
    return prev_period(period_of_month(now.astimezone(tz)))


def period_start(period: str, tz: dt.tzinfo) -> dt.datetime:
    """Local midnight of the period's first day (aware, in tz)."""
    year, month = parse_period(period)
    return dt.datetime(year, month, 1, tzinfo=tz)


def period_end(period: str, tz: dt.tzinfo) -> dt.datetime:
    """Local midnight of the first day after the period (exclusive end)."""
    return period_start(next_period(period), tz)


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
        return period_of_month(handover)
    return next_period(period_of_month(handover))


def mentoring_periods_of(handover: dt.date, count: int) -> tuple[str, str]:
    """(first, last) period of a mentoring lasting `count` periods."""
    first = first_period_after_handover(handover)
    return first, add_periods(first, count - 1)
