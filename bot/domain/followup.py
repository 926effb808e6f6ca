"""After graduation (pure): when the follow-up check-ins fall due, the answers, the reopening.

A graduate is asked one question at decision date + 3 months and + 6 months, at the cycle's
delivery hour (local time). The date is the same day of the month, or the month's last day
when it has no such day (decided 30 November -> 28 or 29 February). Like the cycle's steps,
only the latest due check-in is *current*: after an outage a late tick asks once, and an
earlier check-in that never went out is superseded by the later one. The last check-in stays
current until STALE_AFTER_MONTHS after the decision; after that nothing is asked any more.

Reopened mentoring is a fresh window of REOPEN_PERIODS periods, starting with the month the
decision was made in (its invitation is the next monthly one).
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass

from bot.domain.periods import add_periods, make_period

# step name -> months after the graduation decision
STEPS: tuple[tuple[str, int], ...] = (("m3", 3), ("m6", 6))
STALE_AFTER_MONTHS = 9
# the answers, in button order; the ones that alert the facilitator and staff
ANSWERS: tuple[str, ...] = ("cukup", "belum", "tutup")
ALERT_ANSWERS = frozenset({"belum", "tutup"})
REASON_MIN, REASON_MAX = 10, 500
REOPEN_PERIODS = 6
SEARCH_MIN = 2  # letters of a name search


class FollowupError(Exception):
    """A refused step; `key` names the text in templates/*/followup_error.j2."""

    def __init__(self, key: str, **context: object) -> None:
        super().__init__(key)
        self.key = key
        self.context = context


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day `months` later, or that month's last day (31 Aug + 6 -> 28/29 Feb)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def due_at(decided_at: dt.datetime, months: int, hour: int, tz: dt.tzinfo) -> dt.datetime:
    """When the check-in `months` after the decision falls due: that local day at `hour`
    (aware UTC). The decision's local date counts (23:30 WIB on the 30th is the 30th)."""
    day = add_months(decided_at.astimezone(tz).date(), months)
    return dt.datetime(day.year, day.month, day.day, hour, tzinfo=tz).astimezone(dt.UTC)


@dataclass(frozen=True)
class Checkin:
    step: str  # 'm3' | 'm6'
    months: int
    due: dt.datetime  # aware UTC


def schedule(decided_at: dt.datetime, hour: int, tz: dt.tzinfo) -> list[Checkin]:
    """Every check-in of one graduation, in order."""
    return [Checkin(step, months, due_at(decided_at, months, hour, tz)) for step, months in STEPS]


def current_checkin(
    decided_at: dt.datetime, now: dt.datetime, hour: int, tz: dt.tzinfo
) -> Checkin | None:
    """The check-in to ask at `now`: the latest one due, until the next one is due (or, for
    the last, until STALE_AFTER_MONTHS); None before the first and after the stale limit."""
    if now >= due_at(decided_at, STALE_AFTER_MONTHS, hour, tz):
        return None
    due = [c for c in schedule(decided_at, hour, tz) if c.due <= now]
    return due[-1] if due else None


def latest_decision(now: dt.datetime, months: int, tz: dt.tzinfo) -> dt.datetime:
    """A bound for a query: a check-in `months` after a decision can be due at `now` only if
    the decision was at or before this instant (aware UTC). Generous by a few days (month ends
    clamp, the local date counts), so the exact test stays current_checkin()."""
    day = add_months(now.astimezone(tz).date(), -months) + dt.timedelta(days=4)
    return dt.datetime(day.year, day.month, day.day, tzinfo=tz).astimezone(dt.UTC)


def parse_answer(value: str) -> str:
    """One of ANSWERS; FollowupError('stale') for anything else (only a forged button)."""
    if value not in ANSWERS:
        raise FollowupError("stale")
    return value


def clean_reason(reason: str | None) -> str:
    """The reason for reopening, spaces collapsed; FollowupError('reason_length') unless it
    has REASON_MIN to REASON_MAX characters."""
    text = " ".join((reason or "").split())
    if not REASON_MIN <= len(text) <= REASON_MAX:
        raise FollowupError("reason_length", min=REASON_MIN, max=REASON_MAX)
    return text


def reopen_window(reopened_at: dt.datetime, tz: dt.tzinfo) -> tuple[str, str]:
    """(first, last) period of reopened mentoring: from the month of the decision on."""
    local = reopened_at.astimezone(tz)
    first = make_period(local.year, local.month)
    return first, add_periods(first, REOPEN_PERIODS - 1)


def in_window(period: str, window: tuple[str, str]) -> bool:
    """Whether `period` lies in the (first, last) window."""
    return window[0] <= period <= window[1]
