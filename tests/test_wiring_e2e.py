"""The wiring end to end (real Application, loopback sandbox, FakeClock): a help request
reaches the facilitator through the outbox at once, the privacy notice comes back before any
data is collected, and the minute job alerts the operator once per problem and day."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import pytest

from bot.render import render  # noqa: E402
from bot.services.cycle import iso  # noqa: E402
from bot.services.notices import PRIORITY_URGENT  # noqa: E402
from handlers.cycle import cycle_job  # noqa: E402
from tests.outbox_wait import delivered  # noqa: E402
from tests.report_seed import add_account, add_facilitator, add_recipient, seed_basic  # noqa: E402
from tests.test_reports_e2e import fill  # noqa: E402

# The database-backed tests run on SQLite and on PostgreSQL (tests/pg_databases.py).
pytestmark = pytest.mark.both_engines


async def test_help_request_goes_through_the_outbox_at_once(sandbox_factory):
    sb = await sandbox_factory(seed=seed_basic)
    siti, rini = await sb.user(1001, "Siti"), await sb.user(2001, "Rini")
    await siti.send("/lapor")
    await fill(sb, siti, {"help": ("press", "Ya")})
    await siti.press("Simpan")
    # no tick, no minute job: the handler woke the sender right after planning the notice
    await delivered(sb)
    (notice,) = await rini.messages()
    assert "Permintaan bantuan: Siti" in notice.text
    (row,) = await sb.db.fetchall("SELECT * FROM outbox")
    assert row["kind"] == "notice" and row["priority"] == PRIORITY_URGENT
    assert row["status"] == "sent" and row["chat_id"] == 2001


async def _unconsented(db) -> None:
    f = await add_facilitator(db, "PD-101", "Bu Rini")
    r = await add_recipient(db, 1, "Siti", facilitator_id=f)
    await add_account(db, 1001, "recipient", recipient_id=r, name="Siti", consented=False)
    await add_account(db, 2001, "facilitator", facilitator_id=f, name="Rini", consented=False)


async def test_privacy_notice_again_before_any_report(sandbox_factory):
    sb = await sandbox_factory(seed=_unconsented)
    siti, rini = await sb.user(1001, "Siti"), await sb.user(2001, "Rini")
    button = render("btn_consent", "id")
    for user, command in ((siti, "/lapor"), (rini, "/kunjungan"), (rini, "/lapor")):
        notice = (await user.send(command))[-1]
        assert "UU 27/2022" in notice.text and notice.labels == [button], command
    assert await sb.db.fetchval("SELECT count(*) FROM report_drafts") == 0
    # acknowledging the notice with its button opens the way
    done = await siti.press(button)
    assert any("sudah Anda setujui" in r.text for r in done if r.text)
    assert "Januari 2024" in (await siti.send("/lapor"))[-1].text
    assert await sb.db.fetchval("SELECT count(*) FROM report_drafts") == 1


async def test_minute_job_alerts_the_operator_once_a_day(sandbox_factory, settings, clock):
    cfg = replace(settings, chats=replace(settings.chats, operator=-500),
                  backup=replace(settings.backup, keep=0),
                  outbox=replace(settings.outbox, group_per_minute=600))  # fmt: skip
    sb = await sandbox_factory(settings=cfg)
    op = await sb.user(9001, "Operator")
    ops = await sb.group(-500, "Operator", [op])
    job = SimpleNamespace(application=sb.app)  # what the JobQueue passes: the real app

    async def a_failed_message() -> None:
        await sb.db.execute(
            "INSERT INTO outbox (kind, person, step, chat_id, text, status, not_before,"
            " created_at) VALUES ('cycle', 'chat:1', ?, 1, 'x', 'failed', ?, ?)",
            (iso(clock()), iso(clock()), iso(clock())),
        )

    await a_failed_message()
    for _ in range(3):  # three minutes of the same problem
        await cycle_job(job)
        await delivered(sb)
        clock.advance(minutes=1)
    (alert,) = await ops.messages()
    assert "outbox failed" in alert.text and "1 messages failed" in alert.text
    assert "Yang perlu dilakukan:" in alert.text
    clock.advance(days=1)
    await a_failed_message()  # still failing the next day: one alert for that day
    await cycle_job(job)
    await delivered(sb)
    assert len(await ops.messages()) == 2


async def test_command_menus_default_recipient_and_staff_chats(sandbox_factory, settings):
    from telegram import BotCommandScopeChat

    from bot.commands_menu import commands_for

    cfg = replace(settings, chats=replace(settings.chats, staff=[-100]))
    sb = await sandbox_factory(settings=cfg)
    default = [c.command for c in await sb.app.bot.get_my_commands()]
    assert default == [name for name, _ in commands_for("recipient")]
    assert "lapor" in default and "siaran" not in default
    staff = [c.command for c in await sb.app.bot.get_my_commands(scope=BotCommandScopeChat(-100))]
    assert staff == [name for name, _ in commands_for("staff")]
    assert "siaran" in staff and "lapor" not in staff


async def test_handler_errors_reach_the_operator_once_an_hour(sandbox_factory, settings, clock):
    from telegram.ext import CommandHandler

    async def boom(update, context) -> None:  # noqa: ANN001 - a handler with a bug
        raise RuntimeError("bug")

    # the operator chat is a group: no real 3 s group spacing between alerts in a fake-clock test
    cfg = replace(settings, chats=replace(settings.chats, operator=-500),
                  outbox=replace(settings.outbox, group_per_minute=600))  # fmt: skip
    sb = await sandbox_factory(settings=cfg)
    sb.app.add_handler(CommandHandler("boom", boom), group=-50)
    op = await sb.user(9001, "Operator")
    ops = await sb.group(-500, "Operator", [op])
    user = await sb.user(1234, "Tamu")
    for _ in range(3):
        # (the later groups still run: group 0 also calls /boom an unknown command)
        assert any("terjadi gangguan" in r.text for r in await user.send("/boom"))
        await delivered(sb)
    (alert,) = await ops.messages()
    assert "RuntimeError" in alert.text and "bug" not in alert.text
    clock.advance(hours=1)
    await user.send("/boom")
    await delivered(sb)
    assert len(await ops.messages()) == 2
