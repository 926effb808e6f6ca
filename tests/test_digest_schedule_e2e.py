"""Scheduled digests end to end through the sandbox: what the minute job does (tick, then
plan_digests, then the outbox sender) at a FakeClock's times, as the chats see it."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from zoneinfo import ZoneInfo

import pytest

from bot.services.cycle import iso, tick
from bot.services.digest_schedule import plan_digests
from tests import cycle_seed as seed
from tests.outbox_wait import delivered

# The database-backed tests run on SQLite and on PostgreSQL (tests/pg_databases.py).
pytestmark = pytest.mark.both_engines

WIB = ZoneInfo("Asia/Jakarta")
GROUP = -100


def wib(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=WIB).astimezone(dt.UTC)


async def drained(sb, within: float = 30.0) -> None:
    """Every outbox row due at the fake clock's time delivered, then the bot idle."""
    await delivered(sb, within)


async def run_minute(sb, when: dt.datetime) -> None:
    """The minute job at `when`: tick, plan the digests, wake the sender, wait for it."""
    sb.clock.set(when)
    await tick(sb.db, sb.settings, sb.clock())
    await plan_digests(sb.db, sb.settings, sb.clock())
    sb.app.bot_data["sender"].wake()
    await drained(sb)


async def _scores(db, ids: list[int]) -> None:
    from bot.config import Settings
    from bot.domain.scoring import params_from_settings

    version = params_from_settings(Settings()).model_version
    await db.execute(
        "INSERT INTO score_models (version, label, params, created_at) VALUES (?, '1', '{}', ?)",
        (version, seed.NOW),
    )
    for rid, band in zip(ids, ["siap", "menuju", "intensif"], strict=False):
        await db.execute(
            "INSERT INTO scores (recipient_id, period, model_version, score, band, gate_months,"
            " confidence, components, inputs, computed_at)"
            " VALUES (?, '2024-01', ?, 50, ?, 0, 80, '[]', '{}', ?)",
            (rid, version, band, seed.NOW),
        )


def _people(with_reports: bool, admin: bool = False):
    async def run(db) -> None:
        budi = await seed.facilitator(db, "Budi", chat_id=2001)
        ids = [
            await seed.recipient(db, name, facilitator_id=budi, programme=prog)
            for name, prog in (("Siti", "tata boga"), ("Ani", "menjahit"), ("Rina", "tata boga"))
        ]
        if with_reports:
            for rid, profit in zip(ids[:2], (900_000, 1_500_000), strict=True):
                rep = await seed.report(db, rid, "2024-01")
                await db.execute("UPDATE reports SET profit = ? WHERE id = ?", (profit, rep))
            await _scores(db, ids)
        if admin:
            await seed.account(db, 4001, "admin", name="Admin")

    return run


async def _world(sandbox_factory, settings, *, with_reports: bool = True, admin: bool = False):
    cfg = replace(
        settings,
        chats=replace(settings.chats, staff=[GROUP]),
        # spacing in the test: 0.1 s for a group (Telegram's 20/min would take a minute), none
        # for a private chat (pacing has its own tests; the clock here is a fake one)
        outbox=replace(settings.outbox, group_per_minute=600, private_interval_seconds=0.0),
    )
    sb = await sandbox_factory(settings=cfg, seed=_people(with_reports, admin))
    users = {uid: await sb.user(uid, name) for uid, name in [(2001, "Budi"), (3001, "Staf")]}
    if admin:
        users[4001] = await sb.user(4001, "Admin")
    users[GROUP] = await sb.group(GROUP, "Staf Dinsos", [users[3001]])
    return sb, users


@pytest.fixture
async def world(sandbox_factory, settings):
    return await _world(sandbox_factory, settings)


async def _bodies(conv) -> list[str]:
    return [r.body for r in await conv.messages()]


async def test_no_weekly_digest_on_day_1(world):
    sb, u = world
    # 1 April 2024 is a Monday and the day period 2024-03 opens: nothing to digest yet
    await run_minute(sb, wib(2024, 4, 1, 8, 0))
    await run_minute(sb, wib(2024, 4, 1, 8, 1))
    assert not [t for t in await _bodies(u[GROUP]) if "Ringkasan mingguan" in t]
    assert not [t for t in await _bodies(u[2001]) if "Ringkasan mingguan" in t]
    assert await sb.db.fetchval("SELECT count(*) FROM digest_runs") == 0
    # a week later the period has been open 7 days: the weekly digests go out
    await run_minute(sb, wib(2024, 4, 8, 8, 0))
    weekly = [t for t in await _bodies(u[GROUP]) if "Ringkasan mingguan" in t]
    assert len(weekly) == 1 and "Laporan Maret 2024" in weekly[0]


async def test_monday_weekly_digests_once(world):
    sb, u = world
    # 12 February: period 2024-01 has been open 11 days (none on 5 February: only 4)
    await run_minute(sb, wib(2024, 2, 12, 7, 59))
    assert not [t for t in await _bodies(u[GROUP]) if "Ringkasan mingguan" in t]
    await run_minute(sb, wib(2024, 2, 12, 8, 0))
    await run_minute(sb, wib(2024, 2, 12, 8, 1))  # the next minute's tick plans nothing new
    weekly = [t for t in await _bodies(u[GROUP]) if "Ringkasan mingguan" in t]
    assert len(weekly) == 1
    assert "Kabupaten Tegal" in weekly[0] and "Sudah lapor: 2 dari 3" in weekly[0]
    fac = [t for t in await _bodies(u[2001]) if "Ringkasan mingguan keluarga dampingan" in t]
    assert len(fac) == 1 and "2 dari 3 keluarga sudah lapor" in fac[0]
    (run,) = await sb.db.fetchall("SELECT * FROM digest_runs WHERE chat_id = ?", (GROUP,))
    assert run["sent_at"] == iso(wib(2024, 2, 12, 8, 0))  # the sender recorded it (doctor)


async def test_close_sends_text_three_photos_and_the_export(world):
    sb, u = world
    await run_minute(sb, wib(2024, 2, 20, 8, 0))
    replies = await u[GROUP].messages()
    start = next(i for i, r in enumerate(replies) if r.body.startswith("Laporan bulanan"))
    bundle = replies[start : start + 5]
    assert "Grafik (3)" in bundle[0].body
    assert [r.photo is not None for r in bundle[1:4]] == [True, True, True]
    assert bundle[4].document is not None
    assert bundle[4].document["file_name"].endswith(".xlsx")
    photos = sb.calls("sendPhoto")
    assert len([c for c in photos if c["status"] == 200]) == 3
    # a second minute: nothing again
    await run_minute(sb, wib(2024, 2, 20, 8, 1))
    assert len(await u[GROUP].messages()) == len(replies)


async def test_bot_removed_from_the_staff_group(sandbox_factory, settings):
    # digests from 5 February (4 days open): the group's sends stay before the 15th's message
    settings = replace(settings, digest=replace(settings.digest, min_open_days=0))
    sb, u = await _world(sandbox_factory, settings, admin=True)
    u[GROUP].remove_bot()
    await run_minute(sb, wib(2024, 2, 5, 8, 0))
    notices = [t for t in await _bodies(u[4001]) if "grup staf" in t]
    assert len(notices) == 1 and "dikeluarkan" in notices[0]
    assert await sb.db.fetchval("SELECT count(*) FROM unreachable_chats") == 1
    # later digests skip the group; the period close does not bring a second notice
    await run_minute(sb, wib(2024, 2, 12, 8, 0))
    await run_minute(sb, wib(2024, 2, 20, 8, 0))
    notices = [t for t in await _bodies(u[4001]) if "grup staf" in t]
    assert len(notices) == 1
    runs = await sb.db.fetchall("SELECT kind FROM digest_runs WHERE chat_id = ?", (GROUP,))
    assert [r["kind"] for r in runs] == ["staff_weekly"]  # only the one that met the 403
    pending = await sb.db.fetchval(
        "SELECT count(*) FROM outbox WHERE chat_id = ? AND status IN ('pending', 'sending')",
        (GROUP,),
    )
    assert pending == 0
    tries = [
        c["status"]
        for c in sb.calls()
        if c["method"].startswith("send") and str(c["params"].get("chat_id")) == str(GROUP)
    ]
    # the weekly digest met the 403; the cycle's close notice (planned by the cycle, which
    # does not read unreachable_chats) met it once more; nothing was retried
    assert tries and set(tries) == {403} and len(tries) <= 2
    # the bot is added back to the group: the next Monday's digest reaches it again
    await sb.group(GROUP, "Staf Dinsos", [u[3001]])
    await sb.idle()
    assert await sb.db.fetchval("SELECT count(*) FROM unreachable_chats") == 0
    await run_minute(sb, wib(2024, 2, 26, 8, 0))
    assert [t for t in await _bodies(u[GROUP]) if "Ringkasan mingguan" in t]


async def test_period_without_reports_has_no_photos(sandbox_factory, settings):
    sb, u = await _world(sandbox_factory, settings, with_reports=False)
    await run_minute(sb, wib(2024, 2, 20, 8, 0))
    replies = await u[GROUP].messages()
    monthly = [r for r in replies if r.body.startswith("Laporan bulanan")]
    assert len(monthly) == 1 and "Belum ada laporan yang masuk" in monthly[0].body
    assert not [r for r in replies if r.photo is not None]
    assert [r.document["file_name"] for r in replies if r.document is not None] == [
        "pendamping-2024-01-ekspor.xlsx"
    ]
    assert sb.calls("sendPhoto") == []
