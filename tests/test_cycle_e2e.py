"""End to end through the sandbox (bot/sandbox): the real Application polling a loopback Bot
API server, the outbox sender's own PTB Bot sending to it, a FakeClock for the cycle."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from zoneinfo import ZoneInfo

import pytest

from bot.services.cycle import tick
from tests import cycle_seed as seed
from tests.outbox_wait import delivered

# The database-backed tests run on SQLite and on PostgreSQL (tests/pg_databases.py).
pytestmark = pytest.mark.both_engines

WIB = ZoneInfo("Asia/Jakarta")


def wib(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=WIB).astimezone(dt.UTC)


async def drained(sb, within: float = 20.0) -> None:
    """Every outbox row due at the fake clock's time delivered, then the bot idle."""
    await delivered(sb, within)


async def run_minute(sb, when: dt.datetime) -> None:
    """What the per-minute job does at `when`: one tick, wake the sender, wait for it."""
    sb.clock.set(when)
    await tick(sb.db, sb.settings, sb.clock())
    sb.app.bot_data["sender"].wake()
    await drained(sb)


async def _people(db) -> None:
    d = await seed.desa(db, "Kalisapu")
    budi = await seed.facilitator(db, "Budi", chat_id=2001)
    await seed.recipient(db, "Siti", facilitator_id=budi, desa_id=d, chat_id=1001)
    await seed.recipient(db, "Ani", facilitator_id=budi, desa_id=d, chat_id=1002)
    await seed.recipient(db, "Rina", facilitator_id=budi)  # not linked
    await seed.recipient(db, "Hilang", facilitator_id=budi, chat_id=1099)  # no such chat
    await seed.account(db, 3001, "staff", kecamatan=seed.KEC_SLAWI, name="Staf Slawi")


@pytest.fixture
async def world(sandbox_factory, settings):
    cfg = replace(settings, chats=replace(settings.chats, staff=[-100]))
    sb = await sandbox_factory(settings=cfg, seed=_people)
    users = {uid: await sb.user(uid, name) for uid, name in
             [(1001, "Siti"), (1002, "Ani"), (2001, "Budi"), (3001, "Staf")]}  # fmt: skip
    users[-100] = await sb.group(-100, "Staf Dinsos", [users[3001]])
    return sb, users


async def texts(conv) -> list[str]:
    return [r.body for r in await conv.messages()]


async def test_one_whole_period_through_the_sandbox(world):
    sb, u = world
    await run_minute(sb, wib(2024, 2, 1, 7, 59))
    assert await texts(u[1001]) == []
    await run_minute(sb, wib(2024, 2, 1, 8, 0))
    assert "sudah bisa diisi" in (await texts(u[1001]))[0]
    # the account with no chat: 400 chat not found -> unreachable, the facilitator is told
    (notice,) = await texts(u[2001])
    assert "Hilang" in notice and "chat tidak ditemukan" in notice
    await seed.report(sb.db, 1, "2024-01")  # Siti (recipient id 1) reports
    for day in range(2, 21):
        await run_minute(sb, wib(2024, 2, day, 8, 0))
        await run_minute(sb, wib(2024, 2, day, 8, 1))
    assert len(await texts(u[1001])) == 1
    ani = await texts(u[1002])
    assert len(ani) == 3 and "kami belum menerima" in ani[1]
    # the last reminder is shorter and names the close date
    assert "batas akhir laporan Januari 2024: 20 Februari 2024" in ani[2] and len(ani[2]) < len(
        ani[1]
    )
    fac = (await texts(u[2001]))[1:]
    assert len(fac) == 1 and "Ani" in fac[0] and "Rina" in fac[0] and "Siti" not in fac[0]
    staff = await texts(u[3001])
    assert len(staff) == 2 and "Budi: 1 sudah, 3 belum" in staff[0] and "ditutup" in staff[1]
    assert len(await texts(u[-100])) == 2
    sent = {
        (r["chat_id"], r["step"]): r["sent_at"]
        for r in await sb.db.fetchall("SELECT * FROM outbox WHERE status = 'sent'")
    }
    assert sent[(1002, "reminder1")] == wib(2024, 2, 5, 8).isoformat()
    assert sent[(1002, "reminder2")] == wib(2024, 2, 10, 8).isoformat()
    assert sent[(2001, "escalate_facilitator")] == wib(2024, 2, 12, 8).isoformat()
    assert sent[(3001, "escalate_staff")] == wib(2024, 2, 15, 8).isoformat()
    assert sent[(-100, "close")] == wib(2024, 2, 20, 8).isoformat()


async def test_faults_429_502_and_blocked_user(world):
    sb, u = world
    sb.core.add_fault("sendMessage", 429, retry_after=1)
    sb.core.add_fault("sendMessage", 502)
    u[1002].block()
    await run_minute(sb, wib(2024, 2, 1, 8, 0))
    # whichever sends met the 429 and the 502 (the sandbox fails the next sendMessage calls):
    # the 429 waits retry_after for that chat, the 502 backs off 2 s on the fake clock
    await run_minute(sb, wib(2024, 2, 1, 8, 0, 2))
    await run_minute(sb, wib(2024, 2, 1, 8, 0, 10))
    rows = {r["chat_id"]: dict(r) for r in await sb.db.fetchall("SELECT * FROM outbox")}
    every = await sb.db.fetchall("SELECT status, attempts, last_error FROM outbox")
    assert {r["status"] for r in every} == {"sent", "unreachable"}
    statuses = [c["status"] for c in sb.calls("sendMessage")]
    assert 429 in statuses and 502 in statuses  # both faults were met, and got over
    assert all(r["attempts"] <= 2 for r in every)
    assert rows[1001]["status"] == "sent" and len(await texts(u[1001])) == 1
    assert rows[1002]["status"] == "unreachable"
    assert await sb.db.fetchval("SELECT reachable FROM accounts WHERE chat_id = 1002") == 0
    budi = await texts(u[2001])
    assert any("Ani" in t and "memblokir bot" in t for t in budi)
    assert any("Hilang" in t and "chat tidak ditemukan" in t for t in budi)
    # Ani unblocks and writes to the bot: reachable again, the next reminder reaches her
    u[1002].block(False)
    await u[1002].send("/start")
    await run_minute(sb, wib(2024, 2, 5, 8, 0))
    assert "kami belum menerima" in (await texts(u[1002]))[-1]


async def test_quiet_hours_and_outage_through_the_sandbox(world):
    sb, u = world
    await run_minute(sb, wib(2024, 2, 1, 8))
    await run_minute(sb, wib(2024, 2, 11, 22, 30))  # back at night after a long outage
    assert len(await texts(u[1002])) == 1
    await run_minute(sb, wib(2024, 2, 12, 6, 0))
    ani = await texts(u[1002])
    assert len(ani) == 2  # one late reminder, not reminder1 + reminder2
    await run_minute(sb, wib(2024, 2, 12, 8, 0))
    assert len(await texts(u[1002])) == 2
    skipped = await sb.db.fetchall("SELECT step FROM cycle_steps WHERE status = 'skipped'")
    assert [r["step"] for r in skipped] == ["reminder1"]


async def test_siaran_berhenti_mulai_through_the_sandbox(world):
    sb, u = world
    sb.clock.set(wib(2024, 2, 3, 10))
    await u[1002].send("/berhenti")
    assert "tidak akan mengirim" in (await texts(u[1002]))[-1]
    staff = u[3001]
    await staff.send("/siaran")
    await staff.press("Per desa")
    await staff.press("Kalisapu (Slawi)")
    assert "1 orang" in (await texts(staff))[-1]  # Ani muted herself
    await staff.send("Pelatihan pembukuan Senin pukul 09.00.")
    assert "Akan dikirim ke 1 orang" in (await texts(staff))[-1]
    await staff.press("Kirim")
    sb.app.bot_data["sender"].wake()
    await drained(sb)
    assert (await texts(u[1001]))[-1] == "Pelatihan pembukuan Senin pukul 09.00."
    assert await texts(u[1002]) == ["Baik, bot tidak akan mengirim pengingat dan siaran lagi.\n"
                                    "Anda tetap bisa melapor dengan /lapor.\n"
                                    "Ketik /mulai untuk menerima pesan lagi."]  # fmt: skip
    report = (await texts(staff))[-1]
    assert "Terkirim: 1" in report and "Gagal: 0" in report
    await u[1002].send("/mulai")
    await run_minute(sb, wib(2024, 2, 5, 8))
    assert "kami belum menerima" in (await texts(u[1002]))[-1]
