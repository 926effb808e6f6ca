"""The cycle reaches everyone, end to end: the "Lapor sekarang" button, the invitation for a
person who links while a period is open, reminders of an unfinished report.

People: tests/report_seed.py (Siti 1001, tata boga). January 2024 opens on 1 Feb 08:00 WIB
and closes on 20 Feb 08:00 WIB (default cycle settings).
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs, urlparse
from zoneinfo import ZoneInfo

import pytest

from bot.render import render
from bot.services.cycle import tick
from bot.services.invites import create_invites
from tests.outbox_wait import delivered
from tests.report_seed import add_recipient, seed_basic
from tests.test_reports_e2e import current_key

# The database-backed tests run on SQLite and on PostgreSQL (tests/pg_databases.py).
pytestmark = pytest.mark.both_engines

WIB = ZoneInfo("Asia/Jakarta")


def wib(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=WIB).astimezone(dt.UTC)


async def run_minute(sb, when: dt.datetime) -> None:
    sb.clock.set(when)
    await tick(sb.db, sb.settings, sb.clock())
    sb.app.bot_data["sender"].wake()
    await delivered(sb)


@pytest.fixture
async def bot(sandbox_factory):
    return await sandbox_factory(seed=seed_basic)


async def test_reminder_button_starts_the_report(bot):
    siti = await bot.user(1001, "Siti")
    await run_minute(bot, wib(2024, 2, 1, 8, 0))
    invitation = await siti.last()
    assert "Januari 2024" in invitation.text and "Lapor sekarang" in invitation.labels
    await run_minute(bot, wib(2024, 2, 5, 8, 0))
    reminder = await siti.last()
    assert "belum menerima" in reminder.text and "Lapor sekarang" in reminder.labels
    await siti.press("Lapor sekarang")
    assert await current_key(bot, 1001) == "status"
    assert "Berjalan" in (await siti.last()).labels
    # pressed again later: the same report is resumed, not a new one
    await siti.press("Berjalan")
    await siti.press("Lapor sekarang", message_id=reminder.message_id)
    assert await current_key(bot, 1001) == "revenue"


async def test_person_linking_on_day_3_gets_the_invitation_at_once(bot):
    await run_minute(bot, wib(2024, 2, 1, 8, 0))  # the period opened before she linked
    nik = "3328064211650005"
    await add_recipient(bot.db, 5, "Nur", "menjahit", 1, 1)
    bot.clock.set(wib(2024, 2, 3, 10, 0))
    cards = await create_invites(bot.db, bot.clock(), role="recipient", niks=[nik],
                                 bot_username=bot.settings.bot_username, expiry_days=14)  # fmt: skip
    code = parse_qs(urlparse(cards[0].link).query)["start"][0]
    await bot.db.execute("UPDATE recipients SET phone = '6281234500005' WHERE id = 5")
    nur = await bot.user(1005, "Nur", phone="6281234500005")
    await nur.send(f"/start {code}")
    await nur.share_contact()  # the invite is bound to the register's number
    done = await nur.press(render("btn_consent"))
    assert "Terima kasih" in done[-1].text and done[-1].keyboard == [
        ["Lapor", "Kemajuan", "Bantuan"]
    ]
    await delivered(bot)
    invitation = await nur.last()
    assert "Januari 2024 sudah bisa diisi" in invitation.text
    assert "Lapor sekarang" in invitation.labels
    # the next ticks do not send it again, nor a reminder right after it
    await run_minute(bot, wib(2024, 2, 3, 10, 1))
    await run_minute(bot, wib(2024, 2, 5, 8, 0))
    texts = [m.text for m in await nur.messages() if m.text]
    assert sum("sudah bisa diisi" in t for t in texts) == 1
    await nur.press("Lapor sekarang", message_id=invitation.message_id)
    assert await current_key(bot, 1005) == "status"


async def test_unfinished_report_is_reminded_after_24h_and_before_close(bot):
    siti = await bot.user(1001, "Siti")
    bot.clock.set(wib(2024, 2, 2, 9, 0))
    await siti.send("/lapor")
    await siti.press("Berjalan")
    await run_minute(bot, wib(2024, 2, 3, 8, 0))  # 23 h later: not yet
    assert await bot.db.fetchval("SELECT count(*) FROM outbox WHERE step LIKE 'draft%'") == 0
    await run_minute(bot, wib(2024, 2, 3, 22, 0))  # 37 h later, but in quiet hours
    row = await bot.db.fetchone("SELECT step, not_before FROM outbox WHERE step LIKE 'draft%'")
    assert row["step"] == "draft1"
    assert row["not_before"] == wib(2024, 2, 4, 6, 0).isoformat()
    await run_minute(bot, wib(2024, 2, 4, 6, 0))
    reminder = await siti.last()
    assert "belum selesai" in reminder.text and "Lapor sekarang" in reminder.labels
    await run_minute(bot, wib(2024, 2, 10, 8, 0))  # still once
    assert await bot.db.fetchval("SELECT count(*) FROM outbox WHERE step = 'draft1'") == 1
    await run_minute(bot, wib(2024, 2, 19, 8, 0))  # the day before the close
    last = await siti.last()
    assert "belum selesai" in last.text and "20 Februari 2024" in last.text
    await run_minute(bot, wib(2024, 2, 19, 9, 0))
    assert await bot.db.fetchval("SELECT count(*) FROM outbox WHERE step LIKE 'draft%'") == 2
    await siti.press("Lapor sekarang", message_id=last.message_id)
    assert await current_key(bot, 1001) == "revenue"
