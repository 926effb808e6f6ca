"""Service tests for bot.services.cycle.tick with a real SQLite database and a fake clock."""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import replace
from zoneinfo import ZoneInfo

import pytest

from bot.db import Database
from bot.services.cycle import tick
from tests import cycle_seed as seed

# The database-backed tests run on SQLite and on PostgreSQL (tests/pg_databases.py).
pytestmark = pytest.mark.both_engines

WIB = ZoneInfo("Asia/Jakarta")


def wib(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=WIB).astimezone(dt.UTC)


@pytest.fixture
def cfg(settings):
    return replace(settings, chats=replace(settings.chats, staff=[-100]))


@pytest.fixture
async def world(db):
    d = await seed.desa(db, "Kalisapu")
    budi = await seed.facilitator(db, "Budi", chat_id=2001)
    ids = {
        "siti": await seed.recipient(db, "Siti", facilitator_id=budi, desa_id=d, chat_id=1001),
        "ani": await seed.recipient(db, "Ani", facilitator_id=budi, chat_id=1002),
        "rina": await seed.recipient(db, "Rina", facilitator_id=budi),  # not linked
        "dewi": await seed.recipient(db, "Dewi", facilitator_id=budi, chat_id=1004, muted=True),
        "paused": await seed.recipient(db, "Pause", facilitator_id=budi, chat_id=1005,
                                       status="paused"),
        "old": await seed.recipient(db, "Lama", facilitator_id=budi, chat_id=1006,
                                    handover="2021-01-10"),
        "new": await seed.recipient(db, "Baru", facilitator_id=budi, chat_id=1007,
                                    handover="2024-01-15"),
    }  # fmt: skip
    await seed.account(db, 3001, "staff", kecamatan=seed.KEC_SLAWI, name="Staf Slawi")
    await seed.account(db, 3002, "admin", name="Admin")
    await seed.account(db, 3003, "staff", kecamatan=seed.KEC_LEBAKSIU, name="Staf Lebaksiu")
    ids["budi"] = budi
    return ids


def chats(rows):
    return sorted(r["chat_id"] for r in rows)


async def test_open_plans_for_linked_unreported_active_recipients_only(db, cfg, world):
    result = await tick(db, cfg, wib(2024, 2, 1, 8))
    assert [(s.step, s.status) for s in result.steps] == [("open", "done")]
    rows = await seed.outbox(db)
    # Siti, Ani; not Rina (unlinked), Dewi (muted), paused, Lama (mentoring over),
    # Baru (first period is 2024-02)
    assert chats(rows) == [1001, 1002]
    assert {r["step"] for r in rows} == {"open"} and {r["period"] for r in rows} == {"2024-01"}
    assert "Januari 2024" in rows[0]["text"]


async def test_tick_twice_plans_once(db, cfg, world):
    first = await tick(db, cfg, wib(2024, 2, 1, 8))
    second = await tick(db, cfg, wib(2024, 2, 1, 8, 1))
    assert len(first.planned) == 2 and second.planned == [] and second.steps == []
    assert len(await seed.outbox(db)) == 2


async def test_ticks_started_at_once_plan_once(db, cfg, world):
    """Several workers or cron runs ticking the same minute, each on its own connection: the
    unique keys let exactly one plan each step and each message; none fails."""
    others = [await Database.open(cfg.database, files_dir=cfg.files_dir) for _ in range(3)]
    try:
        results = await asyncio.gather(*(tick(o, cfg, wib(2024, 2, 1, 8)) for o in others))
    finally:
        for other in others:
            await other.close()
    assert sorted(len(r.planned) for r in results) == [0, 0, 2]
    rows = await seed.outbox(db)
    assert chats(rows) == [1001, 1002] and {r["step"] for r in rows} == {"open"}
    assert await db.fetchval("SELECT count(*) FROM cycle_steps") == 1


async def test_reported_recipient_and_report_on_behalf_get_no_reminder(db, cfg, world):
    await tick(db, cfg, wib(2024, 2, 1, 8))
    await seed.report(db, world["siti"], "2024-01")
    await seed.report(db, world["ani"], "2024-01", role="facilitator")
    result = await tick(db, cfg, wib(2024, 2, 5, 8))
    assert [(s.step, s.status) for s in result.steps] == [("reminder1", "done")]
    assert result.planned == []


async def test_period_steps_recorded_when_nobody_is_linked(db, cfg):
    result = await tick(db, cfg, wib(2024, 2, 1, 8, 5), dry_run=False)
    assert [(s.period, s.step, s.status, s.planned) for s in result.steps] == [
        ("2024-01", "open", "done", 0)
    ]
    assert await db.fetchval("SELECT opened_at FROM cycle_periods WHERE period='2024-01'")
    assert await db.fetchval("SELECT count(*) FROM tick_runs") == 1


async def test_dry_run_writes_nothing(db, cfg, world):
    result = await tick(db, cfg, wib(2024, 2, 1, 8), dry_run=True)
    assert len(result.planned) == 2
    assert await seed.outbox(db) == []
    assert await db.fetchval("SELECT count(*) FROM cycle_steps") == 0
    assert await db.fetchval("SELECT count(*) FROM tick_runs") == 0
    text = "\n".join(result.lines(WIB))
    assert "dry run" in text and "recipient Siti" in text


async def test_escalations_list_silent_families_and_staff_by_region(db, cfg, world):
    await seed.report(db, world["siti"], "2024-01")
    result = await tick(db, cfg, wib(2024, 2, 12, 8))
    fac = [m for m in result.planned if m.step == "escalate_facilitator"]
    assert [m.chat_id for m in fac] == [2001]
    assert "Ani" in fac[0].text and "Rina" in fac[0].text and "Siti" not in fac[0].text
    assert "belum terhubung" in fac[0].text  # Rina is not linked
    assert "Lama" not in fac[0].text and "Pause" not in fac[0].text
    result = await tick(db, cfg, wib(2024, 2, 15, 8))
    staff = {m.chat_id: m.text for m in result.planned if m.step == "escalate_staff"}
    # Lebaksiu staff has no families: nothing for them
    assert sorted(staff) == [-100, 3001, 3002]
    assert "Budi: 1 sudah, 3 belum" in staff[3001]
    assert "Slawi" in staff[3001]


async def test_quiet_hours_defer_late_messages_to_morning(db, cfg, world):
    # the server comes back at 22:30 on the 5th: reminder1 is due, sent at 06:00 on the 6th
    result = await tick(db, cfg, wib(2024, 2, 5, 22, 30))
    assert [s.step for s in result.steps] == ["open", "reminder1"]
    assert [s.status for s in result.steps] == ["skipped", "done"]
    rows = await seed.outbox(db)
    assert {r["not_before"] for r in rows} == {"2024-02-05T23:00:00+00:00"}  # 06:00 WIB


async def test_three_day_outage_sends_each_step_once_and_skips_stale(db, cfg, world):
    await tick(db, cfg, wib(2024, 2, 1, 8))  # open
    # down from the 3rd to the 11th 10:00: reminder1 (5th) and reminder2 (10th) missed
    result = await tick(db, cfg, wib(2024, 2, 11, 10))
    assert [(s.step, s.status) for s in result.steps] == [
        ("reminder1", "skipped"), ("reminder2", "done")]  # fmt: skip
    for minute in range(1, 4):
        again = await tick(db, cfg, wib(2024, 2, 11, 10, minute))
        assert again.planned == []
    rows = await seed.outbox(db)
    assert sorted((r["chat_id"], r["step"]) for r in rows) == [
        (1001, "open"), (1001, "reminder2"), (1002, "open"), (1002, "reminder2")]  # fmt: skip


async def test_outage_across_month_boundary_closes_previous_period(db, cfg, world):
    await tick(db, cfg, wib(2024, 2, 1, 8))
    # down from 2 Feb to 2 Mar 09:00: January's close is owed, February opens
    result = await tick(db, cfg, wib(2024, 3, 2, 9))
    got = [(s.period, s.step, s.status) for s in result.steps]
    assert ("2024-01", "close", "done") in got
    assert ("2024-01", "reminder1", "skipped") in got
    assert ("2024-02", "open", "done") in got
    reminders = [m for m in result.planned if m.period == "2024-01" and m.step != "close"]
    assert reminders == []
    assert await db.fetchval("SELECT closed_at FROM cycle_periods WHERE period='2024-01'")


async def test_close_ends_mentoring_after_last_period(db, cfg, world):
    short = replace(cfg, cycle=replace(cfg.cycle, mentoring_periods=3))
    # Siti's window (hand-over 2023-11-20): 2023-12 .. 2024-02
    result = await tick(db, short, wib(2024, 3, 20, 8))
    assert world["siti"] in result.ended
    status = await db.fetchval("SELECT status FROM recipients WHERE id=?", (world["siti"],))
    assert status == "ended"
    assert (
        await db.fetchval("SELECT count(*) FROM audit_log WHERE action='recipient.mentoring_ended'")
        >= 1
    )


async def test_cycle_health_reports_last_tick_and_outbox(db, cfg, world):
    from bot.services.cycle import cycle_health

    empty = await cycle_health(db)
    assert empty.last_tick_at is None and empty.outbox == {}
    await tick(db, cfg, wib(2024, 2, 1, 8))
    health = await cycle_health(db)
    assert health.last_tick_now == wib(2024, 2, 1, 8).isoformat()
    assert health.outbox == {"pending": 2} and health.oldest_pending
