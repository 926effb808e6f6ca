"""Unit tests for bot/domain/periods.py and bot/domain/cycle.py (pure, no fakes)."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.config import ConfigError, CycleSettings
from bot.domain import cycle
from bot.domain.periods import (
    PeriodError,
    add_periods,
    first_period_after_handover,
    mentoring_periods_of,
    next_period,
    parse_period,
    period_distance,
    period_of,
    prev_period,
    reporting_day,
)

WIB = ZoneInfo("Asia/Jakarta")
CFG = CycleSettings()


def wib(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=WIB)


def test_period_of_is_previous_month_in_wib():
    assert period_of(wib(2024, 2, 10, 12), WIB) == "2024-01"
    assert period_of(wib(2024, 1, 1, 0, 30), WIB) == "2023-12"
    # 31 Jan 18:00 UTC is already 1 Feb 01:00 WIB: reporting January
    assert period_of(dt.datetime(2024, 1, 31, 18, tzinfo=dt.UTC), WIB) == "2024-01"


def test_next_prev_add_across_year():
    assert next_period("2023-12") == "2024-01"
    assert prev_period("2024-01") == "2023-12"
    assert add_periods("2024-11", 14) == "2026-01"
    assert period_distance("2023-11", "2024-02") == 3


@pytest.mark.parametrize("bad", ["2024-13", "2024-1", "24-01", "", "2024-00", "abcd-ef"])
def test_parse_period_rejects(bad):
    with pytest.raises(PeriodError):
        parse_period(bad)


@given(st.integers(min_value=2000 * 12, max_value=2100 * 12))
def test_next_prev_roundtrip(index):
    p = f"{index // 12:04d}-{index % 12 + 1:02d}"
    assert prev_period(next_period(p)) == p
    assert period_distance(p, add_periods(p, 7)) == 7


@pytest.mark.parametrize(
    ("handover", "first"),
    [
        (dt.date(2024, 1, 1), "2024-01"),
        (dt.date(2024, 1, 2), "2024-02"),
        (dt.date(2024, 1, 31), "2024-02"),
        (dt.date(2024, 2, 29), "2024-03"),
        (dt.date(2023, 12, 15), "2024-01"),
    ],
)
def test_first_period_is_first_full_month(handover, first):
    assert first_period_after_handover(handover) == first


def test_mentoring_lasts_configured_periods():
    assert mentoring_periods_of(dt.date(2023, 11, 20), 12) == ("2023-12", "2024-11")


def test_reporting_day_is_in_month_after_at_delivery_hour():
    assert reporting_day("2024-01", 5, 8, WIB) == wib(2024, 2, 5, 8).astimezone(dt.UTC)
    assert reporting_day("2023-12", 1, 8, WIB) == wib(2024, 1, 1, 8).astimezone(dt.UTC)


def test_period_steps_default_config():
    steps = cycle.period_steps(CFG, "2024-01", WIB)
    assert [(s.name, s.due.astimezone(WIB).day) for s in steps] == [
        ("open", 1), ("reminder1", 5), ("reminder2", 10),
        ("escalate_facilitator", 12), ("escalate_staff", 15), ("close", 20),
    ]  # fmt: skip
    assert all(s.due.astimezone(WIB).hour == 8 for s in steps)
    assert all(s.due.astimezone(WIB).month == 2 for s in steps)


def test_day_28_in_february_and_leap_year():
    cfg = replace(CFG, open_day=25, reminder_days=[26], escalate_facilitator_day=27,
                  escalate_staff_day=28, close_day=28)  # fmt: skip
    with pytest.raises(ConfigError, match="cycle.close_day"):
        cfg.validate()  # close_day equals escalate_staff_day
    cfg = replace(CFG, open_day=24, reminder_days=[25], escalate_facilitator_day=26,
                  escalate_staff_day=27, close_day=28)  # fmt: skip
    cfg.validate()
    steps = cycle.period_steps(cfg, "2024-01", WIB)  # reported in Feb 2024 (leap)
    assert steps[-1].due == wib(2024, 2, 28, 8).astimezone(dt.UTC)
    steps = cycle.period_steps(cfg, "2023-01", WIB)
    assert steps[-1].due == wib(2023, 2, 28, 8).astimezone(dt.UTC)


@pytest.mark.parametrize("day", [29, 30, 31, 0])
def test_days_a_month_lacks_are_a_config_error(day):
    with pytest.raises(ConfigError, match="cycle.close_day"):
        replace(CFG, close_day=day).validate()


def test_overlapping_days_are_one_clear_error():
    with pytest.raises(ConfigError, match=r"cycle.reminder_days\[1\]"):
        replace(CFG, reminder_days=[5, 5]).validate()
    with pytest.raises(ConfigError, match="cycle.escalate_facilitator_day"):
        replace(CFG, escalate_facilitator_day=9).validate()


def test_delivery_hour_in_quiet_hours_is_a_config_error():
    with pytest.raises(ConfigError, match="cycle.delivery_hour"):
        replace(CFG, delivery_hour=22).validate()
    with pytest.raises(ConfigError, match="cycle.delivery_hour"):
        replace(CFG, delivery_hour=5).validate()


@pytest.mark.parametrize(
    ("local", "quiet"),
    [((20, 59), False), ((21, 0), True), ((23, 30), True), ((0, 0), True), ((5, 59), True),
     ((6, 0), False), ((12, 0), False)],
)  # fmt: skip
def test_quiet_hours_wrap_midnight(local, quiet):
    assert cycle.in_quiet_hours(wib(2024, 2, 1, *local), CFG, WIB) is quiet


def test_out_of_quiet_hours_defers_to_morning():
    assert cycle.out_of_quiet_hours(wib(2024, 2, 1, 22, 15), CFG, WIB) == wib(2024, 2, 2, 6)
    assert cycle.out_of_quiet_hours(wib(2024, 2, 2, 3), CFG, WIB) == wib(2024, 2, 2, 6)
    # across a month boundary
    assert cycle.out_of_quiet_hours(wib(2024, 2, 29, 23), CFG, WIB) == wib(2024, 3, 1, 6)
    assert cycle.out_of_quiet_hours(wib(2024, 2, 2, 7), CFG, WIB) == wib(2024, 2, 2, 7)


def test_quiet_window_not_wrapping():
    cfg = replace(CFG, quiet_start_hour=1, quiet_end_hour=5)
    assert cycle.in_quiet_hours(wib(2024, 2, 1, 2), cfg, WIB)
    assert not cycle.in_quiet_hours(wib(2024, 2, 1, 22), cfg, WIB)
    assert cycle.out_of_quiet_hours(wib(2024, 2, 1, 2), cfg, WIB) == wib(2024, 2, 1, 5)


def states(now):
    return {s.step.name: s.state for s in cycle.step_states(CFG, "2024-01", now, WIB)}


def test_current_step_walks_the_period():
    assert set(states(wib(2024, 2, 1, 7, 59)).values()) == {cycle.FUTURE}
    assert cycle.current_steps(CFG, "2024-01", wib(2024, 2, 1, 8), WIB)[0].name == "open"
    s = states(wib(2024, 2, 6, 9))
    assert s["open"] == cycle.SUPERSEDED and s["reminder1"] == cycle.CURRENT
    assert s["reminder2"] == cycle.FUTURE
    s = states(wib(2024, 2, 15, 8))
    assert s["reminder2"] == cycle.CURRENT
    assert s["escalate_facilitator"] == cycle.CURRENT
    assert s["escalate_staff"] == cycle.CURRENT


def test_three_day_outage_only_latest_step_of_a_chain_is_current():
    # down from 2 Feb to 11 Feb 09:00: open ran, reminder1 (5th) and reminder2 (10th) missed
    current = [s.name for s in cycle.current_steps(CFG, "2024-01", wib(2024, 2, 11, 9), WIB)]
    assert current == ["reminder2"]
    # down from 9th to 13th: reminder2 and facilitator escalation both current (other chains)
    current = [s.name for s in cycle.current_steps(CFG, "2024-01", wib(2024, 2, 13, 9), WIB)]
    assert current == ["reminder2", "escalate_facilitator"]


def test_after_close_everything_else_is_superseded():
    s = states(wib(2024, 2, 21, 10))
    assert s["close"] == cycle.CURRENT
    assert {v for k, v in s.items() if k != "close"} == {cycle.SUPERSEDED}


def test_step_due_in_quiet_hours_is_deferred():
    cfg = replace(CFG, delivery_hour=8, quiet_start_hour=7, quiet_end_hour=9)
    steps = cycle.period_steps(cfg, "2024-01", WIB)
    assert steps[0].due == wib(2024, 2, 1, 9).astimezone(dt.UTC)


@given(
    st.datetimes(
        min_value=dt.datetime(2023, 12, 1), max_value=dt.datetime(2024, 3, 31),
    ).map(lambda d: d.replace(tzinfo=WIB))
)  # fmt: skip
def test_at_most_one_current_step_per_chain(now):
    current = cycle.current_steps(CFG, "2024-01", now, WIB)
    chains = [s.chain for s in current]
    assert len(chains) == len(set(chains))
    assert all(s.due <= now for s in current)


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"per_second": 0}, "outbox.per_second"),
        ({"in_flight": 0}, "outbox.in_flight"),
        ({"group_per_minute": 0}, "outbox.group_per_minute"),
        ({"max_attempts": 0}, "outbox.max_attempts"),
        ({"backoff_seconds": 500.0}, "outbox.backoff_seconds"),
        ({"private_interval_seconds": -1.0}, "outbox.private_interval_seconds"),
        ({"global_429_chats": 0}, "outbox.global_429_chats"),
    ],
)
def test_outbox_settings_are_validated(change, key):
    from bot.config import OutboxSettings

    OutboxSettings().validate()
    with pytest.raises(ConfigError, match=key):
        replace(OutboxSettings(), **change).validate()


def test_outbox_section_loads_from_toml(tmp_path):
    from bot.config import load_settings

    path = tmp_path / "p.toml"
    path.write_text("[outbox]\nper_second = 20.0\nin_flight = 4\n", encoding="utf-8")
    s = load_settings(path, env={})
    assert s.outbox.per_second == 20.0 and s.outbox.in_flight == 4
    path.write_text("[outbox]\nin_flight = 0\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="outbox.in_flight"):
        load_settings(path, env={})
