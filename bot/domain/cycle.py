"""The monthly cycle of one period (pure): its steps, their due times, which one is current.

A period P is reported in the month after it. Its steps fall on configured days of that
month at the delivery hour (local time, WIB): open, reminder 1..N, escalation to the
facilitator, escalation to staff, close. A time inside quiet hours waits for the morning.

After an outage several steps may be past due at once. Only the latest step of each chain is
*current*; earlier ones are *superseded* (skipped if they never ran), so a late tick sends one
message per person, not a burst:
  - recipient chain: open, reminder1, reminder2, ...
  - facilitator escalation, staff escalation: each its own chain,
  - close supersedes every other step of the period (the period is over).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from bot.domain.periods import reporting_day

OPEN = "open"
ESCALATE_FACILITATOR = "escalate_facilitator"
ESCALATE_STAFF = "escalate_staff"
CLOSE = "close"

CHAIN_RECIPIENT = "recipient"
CHAIN_FACILITATOR = "facilitator"
CHAIN_STAFF = "staff"
CHAIN_CLOSE = "close"

FUTURE = "future"
CURRENT = "current"
SUPERSEDED = "superseded"


class CycleConfig(Protocol):
    """The cycle settings the steps need (read-only: the frozen settings object satisfies it)."""

    @property
    def open_day(self) -> int: ...

    @property
    def reminder_days(self) -> Sequence[int]: ...

    @property
    def escalate_facilitator_day(self) -> int: ...

    @property
    def escalate_staff_day(self) -> int: ...

    @property
    def close_day(self) -> int: ...

    @property
    def delivery_hour(self) -> int: ...

    @property
    def quiet_start_hour(self) -> int: ...

    @property
    def quiet_end_hour(self) -> int: ...

    @property
    def mentoring_periods(self) -> int: ...


@dataclass(frozen=True)
class Step:
    """One step of one period: name is the stable key ('open', 'reminder1', ... 'close')."""

    period: str
    name: str
    chain: str
    due: dt.datetime  # aware UTC, already moved out of quiet hours


@dataclass(frozen=True)
class StepState:
    step: Step
    state: str  # FUTURE | CURRENT | SUPERSEDED


def reminder_name(index: int) -> str:
    """1-based reminder index -> 'reminder1'."""
    return f"reminder{index}"


def in_quiet_hours(when: dt.datetime, cfg: CycleConfig, tz: dt.tzinfo) -> bool:
    """True when `when` (any aware time) is inside quiet hours, local time."""
    start, end = cfg.quiet_start_hour, cfg.quiet_end_hour
    if start == end:
        return False
    hour = when.astimezone(tz).hour
    if start > end:  # wraps midnight, e.g. 21 -> 6
        return hour >= start or hour < end
    return start <= hour < end


def out_of_quiet_hours(when: dt.datetime, cfg: CycleConfig, tz: dt.tzinfo) -> dt.datetime:
    """`when` itself, or the end of the quiet hours it falls in (aware UTC)."""
    if not in_quiet_hours(when, cfg, tz):
        return when.astimezone(dt.UTC)
    local = when.astimezone(tz)
    morning = local.replace(hour=cfg.quiet_end_hour, minute=0, second=0, microsecond=0)
    if morning <= local:
        morning = (local + dt.timedelta(days=1)).replace(
            hour=cfg.quiet_end_hour, minute=0, second=0, microsecond=0
        )
    return morning.astimezone(dt.UTC)


def period_steps(cfg: CycleConfig, period: str, tz: dt.tzinfo) -> list[Step]:
    """Every step of a period in order, with its due time."""

    def at(day: int) -> dt.datetime:
        return out_of_quiet_hours(reporting_day(period, day, cfg.delivery_hour, tz), cfg, tz)

    steps = [Step(period, OPEN, CHAIN_RECIPIENT, at(cfg.open_day))]
    for i, day in enumerate(cfg.reminder_days, start=1):
        steps.append(Step(period, reminder_name(i), CHAIN_RECIPIENT, at(day)))
    steps.append(
        Step(period, ESCALATE_FACILITATOR, CHAIN_FACILITATOR, at(cfg.escalate_facilitator_day))
    )
    steps.append(Step(period, ESCALATE_STAFF, CHAIN_STAFF, at(cfg.escalate_staff_day)))
    steps.append(Step(period, CLOSE, CHAIN_CLOSE, at(cfg.close_day)))
    return steps


def step_states(cfg: CycleConfig, period: str, now: dt.datetime, tz: dt.tzinfo) -> list[StepState]:
    """Each step of the period as FUTURE, CURRENT (act on it now) or SUPERSEDED (skip it)."""
    steps = period_steps(cfg, period, tz)
    due = [s for s in steps if s.due <= now]
    closed = any(s.name == CLOSE for s in due)
    latest_of_chain: dict[str, Step] = {}
    for s in due:  # steps are in due order: the last one seen per chain is the latest
        latest_of_chain[s.chain] = s
    result = []
    for s in steps:
        if s.due > now:
            state = FUTURE
        elif closed and s.name != CLOSE:
            state = SUPERSEDED
        elif latest_of_chain[s.chain] is s:
            state = CURRENT
        else:
            state = SUPERSEDED
        result.append(StepState(s, state))
    return result


def current_steps(cfg: CycleConfig, period: str, now: dt.datetime, tz: dt.tzinfo) -> list[Step]:
    """The steps to act on at `now` (at most one per chain)."""
    return [s.step for s in step_states(cfg, period, now, tz) if s.state == CURRENT]


def step_by_name(cfg: CycleConfig, period: str, name: str, tz: dt.tzinfo) -> Step:
    """The step of a period with this name ('open', 'reminder1', ... 'close')."""
    for s in period_steps(cfg, period, tz):
        if s.name == name:
            return s
    raise KeyError(name)


def is_recipient_step(name: str) -> bool:
    """Whether the step speaks to the recipient (the invitation and the reminders)."""
    return name == OPEN or name.startswith("reminder")
