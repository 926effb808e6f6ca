"""bot.domain.periods: the reporting period rule shared with the cycle."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from bot.domain import periods as P

WIB = ZoneInfo("Asia/Jakarta")


def test_period_of_is_previous_local_month() -> None:
    # 31 Jan 2024 18:00 UTC is already 1 Feb 01:00 WIB: January is open.
    assert P.period_of(dt.datetime(2024, 1, 31, 18, 0, tzinfo=dt.UTC), WIB) == "2024-01"
    assert P.period_of(dt.datetime(2024, 1, 31, 16, 0, tzinfo=dt.UTC), WIB) == "2023-12"


def test_next_prev_across_years() -> None:
    assert P.next_period("2024-12") == "2025-01"
    assert P.prev_period("2024-01") == "2023-12"
    assert P.periods_between("2023-11", "2024-02") == ["2023-11", "2023-12", "2024-01", "2024-02"]


def test_close_and_late() -> None:
    close = P.closes_at("2024-01", 20, WIB)
    assert close == dt.datetime(2024, 2, 21, tzinfo=WIB)
    assert not P.is_late("2024-01", dt.datetime(2024, 2, 20, 23, 59, tzinfo=WIB), 20, WIB)
    assert P.is_late("2024-01", dt.datetime(2024, 2, 21, 0, 0, tzinfo=WIB), 20, WIB)
    assert P.opens_at("2024-12", WIB) == dt.datetime(2025, 1, 1, tzinfo=WIB)


def test_recent_periods() -> None:
    now = dt.datetime(2024, 2, 1, 8, tzinfo=dt.UTC)
    assert P.recent_periods(now, WIB, 3) == ["2024-01", "2023-12", "2023-11"]


@pytest.mark.parametrize("bad", ["2024-13", "2024-1", "24-01", "", "2024-00"])
def test_parse_period_refuses(bad: str) -> None:
    with pytest.raises(ValueError):
        P.parse_period(bad)
    assert not P.is_period(bad)
