"""The follow-up after graduation, pure: due dates (month ends), the current check-in after an
outage, answers and reasons, the reopened mentoring window."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from bot.domain import followup as fu

WIB = ZoneInfo("Asia/Jakarta")


def wib(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=WIB).astimezone(dt.UTC)


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (dt.date(2024, 11, 30), 3, dt.date(2025, 2, 28)),  # no 30 February: its last day
        (dt.date(2023, 11, 30), 3, dt.date(2024, 2, 29)),  # a leap year
        (dt.date(2024, 8, 31), 6, dt.date(2025, 2, 28)),
        (dt.date(2024, 3, 31), 3, dt.date(2024, 6, 30)),
        (dt.date(2024, 10, 15), 3, dt.date(2025, 1, 15)),  # across the year
        (dt.date(2024, 7, 3), 6, dt.date(2025, 1, 3)),
        (dt.date(2024, 1, 31), -2, dt.date(2023, 11, 30)),
    ],
)
def test_add_months_keeps_the_day_or_takes_the_month_end(day, months, expected) -> None:
    assert fu.add_months(day, months) == expected


def test_due_at_is_the_local_day_at_the_delivery_hour() -> None:
    # decided 30 November 10:00 WIB -> the 3-month check-in on 28 February 08:00 WIB
    assert fu.due_at(wib(2024, 11, 30, 10, 0), 3, 8, WIB) == wib(2025, 2, 28, 8, 0)
    assert fu.due_at(wib(2023, 11, 30, 10, 0), 3, 8, WIB) == wib(2024, 2, 29, 8, 0)
    # 29 Nov 20:00 UTC is already 30 Nov 03:00 WIB: the local date counts
    decided = dt.datetime(2024, 11, 29, 20, 0, tzinfo=dt.UTC)
    assert fu.due_at(decided, 3, 8, WIB) == wib(2025, 2, 28, 8, 0)
    assert [c.step for c in fu.schedule(decided, 8, WIB)] == ["m3", "m6"]
    assert fu.schedule(decided, 8, WIB)[1].due == wib(2025, 5, 30, 8, 0)


def test_the_current_check_in_before_between_and_after() -> None:
    decided = wib(2024, 7, 3, 9, 0)
    at = lambda *a: fu.current_checkin(decided, wib(*a), 8, WIB)  # noqa: E731
    assert at(2024, 10, 3, 7, 59) is None
    assert at(2024, 10, 3, 8, 0).step == "m3"
    # the bot was down for weeks: a late tick still asks the 3-month question
    assert at(2024, 12, 20, 8, 0).step == "m3"
    # once the 6-month one is due, an unasked 3-month one is superseded
    assert at(2025, 1, 3, 8, 0).step == "m6"
    assert at(2025, 4, 2, 23, 0).step == "m6"
    # after the stale limit nothing is asked any more
    assert at(2025, 4, 3, 8, 0) is None
    assert at(2030, 1, 1, 8, 0) is None


@pytest.mark.parametrize("bad", ["", "CUKUP", "ya", "tutup ", "cukup;drop", "reopen"])
def test_only_the_three_answers_are_accepted(bad: str) -> None:
    assert [fu.parse_answer(a) for a in fu.ANSWERS] == list(fu.ANSWERS)
    with pytest.raises(fu.FollowupError) as err:
        fu.parse_answer(bad)
    assert err.value.key == "stale"


@pytest.mark.parametrize(
    "bad", [None, "", "   ", "tutup", "123456789", " a  b  c  d  e ", "x" * 501]
)
def test_a_reopen_reason_needs_10_to_500_characters(bad) -> None:
    with pytest.raises(fu.FollowupError) as err:
        fu.clean_reason(bad)
    assert err.value.key == "reason_length" and err.value.context == {"min": 10, "max": 500}


def test_a_reason_is_kept_with_its_spaces_collapsed() -> None:
    assert fu.clean_reason("  Usaha   tutup\nsejak  September ") == "Usaha tutup sejak September"
    assert fu.clean_reason("x" * 500) == "x" * 500


def test_the_reopened_window_starts_with_the_month_of_the_decision() -> None:
    window = fu.reopen_window(wib(2024, 10, 3, 10, 0), WIB)
    assert window == ("2024-10", "2025-03")
    # 31 Dec 20:00 UTC is 1 January WIB
    assert fu.reopen_window(dt.datetime(2024, 12, 31, 20, 0, tzinfo=dt.UTC), WIB)[0] == "2025-01"
    assert fu.in_window("2024-10", window) and fu.in_window("2025-03", window)
    assert not fu.in_window("2024-09", window) and not fu.in_window("2025-04", window)


def test_the_query_bound_never_drops_a_due_check_in() -> None:
    """latest_decision() only narrows the planning query: for decisions on every day and at
    night and day hours over two years (month ends, leap day), a check-in due at `now` always
    has its decision at or before the bound, and one decided 5 days after it is not due."""
    start = dt.date(2023, 1, 1)
    for offset in range(800):
        day = start + dt.timedelta(days=offset)
        for hour in (0, 10, 23):
            decided = dt.datetime(day.year, day.month, day.day, hour, tzinfo=WIB)
            for c in fu.schedule(decided, 8, WIB):
                for now in (c.due, c.due + dt.timedelta(hours=15)):
                    assert decided <= fu.latest_decision(now, c.months, WIB), (decided, now)
    now = wib(2025, 2, 28, 8, 0)
    later = fu.latest_decision(now, 3, WIB) + dt.timedelta(days=5)
    assert fu.current_checkin(later, now, 8, WIB) is None
