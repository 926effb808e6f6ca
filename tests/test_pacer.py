"""The pacer alone: spacing per chat and for all chats, and 429 holds, on a manual clock."""

from __future__ import annotations

from dataclasses import replace

from bot.clock import ManualMonotonic
from bot.config import OutboxSettings
from bot.domain.pacer import Pacer

LIMITS = OutboxSettings(per_second=10.0, private_interval_seconds=1.0, group_per_minute=20,
                        global_429_chats=2)  # fmt: skip


def make(limits: OutboxSettings = LIMITS) -> tuple[Pacer, ManualMonotonic]:
    mono = ManualMonotonic(start=100.0)
    return Pacer(limits, mono), mono


def test_a_private_chat_waits_its_interval_and_a_group_its_per_minute_share():
    pacer, mono = make()
    pacer.reserve(5)
    pacer.reserve(-100)
    assert pacer.chat_ready_at(5) == 101.0
    assert pacer.chat_ready_at(-100) == 103.0  # 20 per minute: every 3 s
    assert pacer.chat_waiting(5) and not pacer.chat_waiting(6)
    mono.advance(1.0)
    assert not pacer.chat_waiting(5) and pacer.chat_waiting(-100)


def test_the_global_slot_spaces_all_chats_without_drift_or_burst():
    pacer, mono = make()  # 10 per second: a slot every 0.1 s, a late one forgiven 0.025 s
    assert pacer.global_delay() == 0.0
    pacer.reserve(1)
    assert abs(pacer.global_delay() - 0.075) < 1e-9
    mono.advance(0.085)  # a sleep 10 ms late: the next slot counts from the planned one
    pacer.reserve(2)
    assert abs(pacer.global_delay() - 0.09) < 1e-9
    mono.advance(5.0)  # a long pause does not bank slots for a burst
    pacer.reserve(3)
    assert abs(pacer.global_delay() - 0.075) < 1e-9


def test_a_429_holds_that_chat_only_until_enough_chats_are_limited():
    pacer, mono = make()
    assert pacer.hold(7, 2.0) is False
    assert pacer.chat_ready_at(7) == 102.0 and pacer.global_delay() == 0.0
    mono.advance(1.5)  # the first 429 is older than a second: it no longer counts
    assert pacer.hold(8, 2.0) is False
    mono.advance(0.5)
    assert pacer.hold(9, 3.0) is True  # two chats within a second: the whole bot waits
    assert pacer.global_delay() == 3.0


def test_changed_limits_apply_at_once():
    pacer, _ = make()
    pacer.limits = replace(LIMITS, private_interval_seconds=0.25)
    pacer.reserve(5)
    assert pacer.chat_ready_at(5) == 100.25
