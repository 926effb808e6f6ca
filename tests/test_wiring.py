"""Loose ends tied together (services, real SQLite, FakeClock): notices through the outbox,
consent before data collection, rescoring on flag resolution, the minute job's upkeep
(scores at period close, the daily backup, operator alerts), and ended/graduated recipients
getting no reminders."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from zoneinfo import ZoneInfo

import pytest

from bot.domain.forms import Pressed, Text
from bot.services import graduation as grad
from bot.services import reports as R
from bot.services import upkeep
from bot.services.access import ConsentNeeded, require_consent
from bot.services.cycle import iso, tick
from bot.services.notices import PRIORITY_URGENT, enqueue_notices
from tests import cycle_seed as cseed
from tests.report_seed import add_account, add_facilitator, add_recipient, seed_basic
from tests.test_reports_service import NOW, report

# The database-backed tests run on SQLite and on PostgreSQL (tests/pg_databases.py).
pytestmark = pytest.mark.both_engines

WIB = ZoneInfo("Asia/Jakarta")


def wib(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=WIB).astimezone(dt.UTC)


@pytest.fixture
async def seeded(db):
    return await seed_basic(db)


# --- notices through the outbox ------------------------------------------------------------


async def test_help_request_is_planned_once_urgent_for_the_facilitator(db, settings, seeded):
    saved = await report(db, settings, seeded["siti"], overrides={"help": Pressed("ya")})
    (notice,) = saved.notices
    assert notice.urgent and notice.key == f"report:{saved.saved['report_id']}"
    assert await enqueue_notices(db, saved.notices, NOW) == 1
    assert await enqueue_notices(db, saved.notices, NOW) == 0  # a retried update: no duplicate
    (row,) = await db.fetchall("SELECT * FROM outbox")
    assert row["kind"] == "notice" and row["priority"] == PRIORITY_URGENT
    assert row["chat_id"] == 2001 and row["account_id"] == seeded["rini"].id
    assert row["status"] == "pending" and row["not_before"] == iso(NOW)
    assert "Permintaan bantuan: Siti" in row["text"]
    # a new revision while the request is still open: no second notice
    again = await report(db, settings, seeded["siti"], overrides={"help": Pressed("ya")})
    assert again.notices == []


# --- consent ---------------------------------------------------------------------


async def test_no_data_collection_before_the_privacy_notice(db, settings, seeded):
    f = await add_facilitator(db, "PD-120", "Bu Baru")
    r = await add_recipient(db, 20, "Baru", facilitator_id=f)
    fresh = await add_account(db, 1020, "recipient", recipient_id=r, consented=False)
    fac = await add_account(db, 2020, "facilitator", facilitator_id=f, consented=False)
    with pytest.raises(ConsentNeeded):
        require_consent(fresh)
    for call in (
        R.start_report(db, NOW, settings, fresh),
        R.start_report(db, NOW, settings, fac, r),
        R.start_visit(db, NOW, settings, fac, r),
        R.caseload_choices(db, NOW, settings, fac),
        R.answer(db, NOW, settings, fresh, Text("1 juta")),
    ):
        with pytest.raises(R.ReportError) as err:
            await call
        assert err.value.key == "consent_needed"
    assert await db.fetchval("SELECT count(*) FROM report_drafts") == 0
    # staff and admin are not asked (they collect no data in chat); consented people go on
    require_consent(replace(fresh, role="staff"))
    step = await R.start_report(db, NOW, settings, seeded["siti"])
    assert step.kind == "question"


# --- scores ----------------------------------------------------------------------


async def _computed_at(db, recipient_id: int) -> str | None:
    return await db.fetchval(
        "SELECT max(computed_at) FROM scores WHERE recipient_id = ? AND period = '2024-01'",
        (recipient_id,),
    )


async def test_resolving_a_flag_recomputes_the_score(db, settings, seeded):
    r1 = seeded["recipients"][0]
    await report(db, settings, seeded["siti"])
    await report(db, settings, seeded["rini"], r1, overrides={"revenue": Text("2,5 juta")})
    assert await _computed_at(db, r1) == iso(NOW)
    later = NOW + dt.timedelta(hours=2)
    (flag,) = await R.open_flags(db, seeded["rini"])
    await R.resolve_flag(db, later, settings, seeded["rini"], flag.id, 1)
    assert await _computed_at(db, r1) == iso(later)


async def test_typed_flag_value_recomputes_the_score(db, settings, seeded):
    r1 = seeded["recipients"][0]
    await report(db, settings, seeded["siti"])
    await report(db, settings, seeded["rini"], r1, overrides={"revenue": Text("5 jt")})
    later = NOW + dt.timedelta(hours=3)
    (flag,) = await R.open_flags(db, seeded["rini"])
    await R.start_flag_value(db, later, settings, seeded["rini"], flag.id)
    done = await R.answer(db, later, settings, seeded["rini"], Text("1.100.000"))
    assert done.kind == "saved"
    assert await _computed_at(db, r1) == iso(later)


@pytest.fixture
def cfg(settings):
    return replace(settings, chats=replace(settings.chats, operator=-500),
                   backup=replace(settings.backup, keep=0))  # fmt: skip


async def _cycle_world(db) -> dict[str, int]:
    d = await cseed.desa(db, "Kalisapu")
    budi = await cseed.facilitator(db, "Budi", chat_id=2001)
    siti = await cseed.recipient(db, "Siti", facilitator_id=budi, desa_id=d, chat_id=1001)
    ani = await cseed.recipient(db, "Ani", facilitator_id=budi, desa_id=d, chat_id=1002)
    return {"siti": siti, "ani": ani, "budi": budi}


async def test_scores_recomputed_once_when_a_period_closes(db, cfg):
    people = await _cycle_world(db)
    await cseed.report(db, people["siti"], "2024-01")
    before_close = wib(2024, 2, 19, 8)
    await tick(db, cfg, before_close)
    assert (await upkeep.after_tick(db, cfg, before_close)).scored_period is None
    at_close = wib(2024, 2, 20, 8)
    result = await tick(db, cfg, at_close)
    assert [s.step for s in result.steps if s.status == "done"] == ["close"]
    done = await upkeep.after_tick(db, cfg, at_close)
    assert done.scored_period == "2024-01" and done.errors == []
    rows = await db.fetchall("SELECT recipient_id, computed_at FROM scores WHERE period='2024-01'")
    assert rows and all(r["computed_at"] == iso(at_close) for r in rows)
    assert done.scored == len(rows)
    # idempotent: the next minutes (and a restart) do not score again
    again = await upkeep.after_tick(db, cfg, at_close + dt.timedelta(minutes=1))
    assert again.scored_period is None
    marks = await db.fetchval("SELECT count(*) FROM audit_log WHERE action = 'scores.period_close'")
    assert marks == 1


async def test_a_close_missed_by_the_job_is_scored_at_the_next_minute(db, cfg):
    # the close ran from the `tick` CLI (or the bot died right after it): the job catches up
    people = await _cycle_world(db)
    await cseed.report(db, people["ani"], "2024-01")
    await tick(db, cfg, wib(2024, 2, 20, 8))
    later = wib(2024, 2, 20, 9)
    assert (await upkeep.after_tick(db, cfg, later)).scored_period == "2024-01"


# --- reminders stop for graduated and ended recipients -------------------------------------


async def test_graduated_and_ended_recipients_get_no_reminder(db, cfg):
    people = await _cycle_world(db)
    lina = await cseed.recipient(db, "Lina", facilitator_id=people["budi"], chat_id=1003)
    staff = await cseed.account(db, 3001, "staff", kecamatan=cseed.KEC_SLAWI, name="Staf")
    staff_acc = replace(
        await _account(db, 3001), role="staff", kecamatan_code=cseed.KEC_SLAWI, id=staff
    )
    # Siti graduates (status set by an approved case), Lina's mentoring is ended with /akhiri
    await db.execute(
        "UPDATE recipients SET status = 'graduated', status_reason = 'graduasi: siap' WHERE id = ?",
        (people["siti"],),
    )
    nik = await db.fetchval("SELECT nik FROM recipients WHERE id = ?", (lina,))
    ref = await grad.end_mentoring(db, staff_acc, nik, "moved", "Pindah ke Brebes", NOW)
    assert ref.id == lina
    result = await tick(db, cfg, wib(2024, 2, 1, 8))
    reminded = {m.chat_id for m in result.planned if m.kind == "cycle"}
    assert reminded == {1002}  # only Ani, still active


async def _account(db, user_id: int):
    from bot.services.accounts import get_account

    return await get_account(db, user_id)


async def test_cycle_end_and_akhiri_agree_on_status(db, cfg):
    """Both end mentoring with status 'ended' and a reason whose first word is the kind."""
    people = await _cycle_world(db)
    short = replace(cfg, cycle=replace(cfg.cycle, mentoring_periods=3))
    await tick(db, short, wib(2024, 3, 20, 8))  # hand-over 2023-11-20: last period 2024-02
    rows = await db.fetchall("SELECT status, status_reason FROM recipients ORDER BY id")
    assert {(r["status"], r["status_reason"]) for r in rows} == {("ended", "selesai")}
    staff = await cseed.account(db, 3001, "admin", name="Admin")
    admin = replace(await _account(db, 3001), id=staff)
    other = await cseed.recipient(db, "Tuti", facilitator_id=people["budi"])
    nik = await db.fetchval("SELECT nik FROM recipients WHERE id = ?", (other,))
    await grad.end_mentoring(db, admin, nik, "declined", "Tidak mau lagi", NOW)
    row = await db.fetchone("SELECT status, status_reason FROM recipients WHERE id = ?", (other,))
    assert row["status"] == "ended" and row["status_reason"].split(":")[0] in grad.END_KINDS
    # an ended recipient cannot be ended again by staff, whichever way it ended
    siti_nik = await db.fetchval("SELECT nik FROM recipients WHERE id = ?", (people["siti"],))
    with pytest.raises(grad.GraduationError):
        await grad.end_mentoring(db, admin, siti_nik, "moved", "Pindah lagi", NOW)


# --- operations ------------------------------------------------------------------


async def _failed_message(db, now: dt.datetime) -> None:
    await db.execute(
        "INSERT INTO outbox (kind, person, step, chat_id, text, status, not_before, created_at)"
        " VALUES ('cycle', 'chat:1', ?, 1, 'x', 'failed', ?, ?)",
        (iso(now), iso(now), iso(now)),
    )


async def test_operator_alert_once_per_problem_and_day(db, cfg):
    now = wib(2024, 2, 1, 10)
    await tick(db, cfg, now)
    assert (await upkeep.after_tick(db, cfg, now)).alerts == []  # all well: no alert
    await _failed_message(db, now)
    assert (await upkeep.after_tick(db, cfg, now)).alerts == ["outbox failed"]
    for minutes in range(1, 6):  # the problem goes on: no alert every minute
        assert (await upkeep.after_tick(db, cfg, now + dt.timedelta(minutes=minutes))).alerts == []
    alerts = await db.fetchall("SELECT * FROM outbox WHERE kind = 'alert'")
    assert len(alerts) == 1 and alerts[0]["chat_id"] == -500
    assert "outbox failed" in alerts[0]["text"] and alerts[0]["priority"] == PRIORITY_URGENT
    next_day = wib(2024, 2, 2, 10)
    await _failed_message(db, next_day)
    assert (await upkeep.after_tick(db, cfg, next_day)).alerts == ["outbox failed"]


async def test_no_operator_chat_no_alert(db, settings):
    now = wib(2024, 2, 1, 10)
    await _failed_message(db, now)
    quiet = replace(settings, backup=replace(settings.backup, keep=0))
    assert (await upkeep.after_tick(db, quiet, now)).alerts == []
    assert await db.fetchval("SELECT count(*) FROM outbox WHERE kind = 'alert'") == 0


@pytest.mark.sqlite_only  # PostgreSQL is backed up with pg_dump, not by the bot
async def test_daily_backup_from_the_minute_job(db, settings):
    cfg = replace(settings, backup=replace(settings.backup, keep=3, hour=2))
    early = wib(2024, 2, 1, 1, 30)
    assert (await upkeep.after_tick(db, cfg, early)).backup is None  # before 02:00 WIB
    at_two = wib(2024, 2, 1, 2, 0)
    made = (await upkeep.after_tick(db, cfg, at_two)).backup
    assert made is not None and made.exists()
    assert (await upkeep.after_tick(db, cfg, at_two + dt.timedelta(minutes=1))).backup is None


# --- the command list (/bantuan and the menus) ---------------------------------------------


def test_every_registered_command_is_listed_in_both_languages(settings):
    from bot.app import build_application
    from bot.commands_menu import command_list
    from tests.access_matrix import registered_commands

    app = build_application(settings, token="123456:wiring", rate_limiter=False)
    aliases = {"help"}  # /help answers like /bantuan and is not listed twice
    registered = registered_commands(app) - aliases
    by_lang = {lang: {c.name: c.roles for c in command_list(lang)} for lang in ("id", "en")}
    assert set(by_lang["id"]) == registered, "commands.j2 (id) and app.py disagree"
    assert by_lang["en"] == by_lang["id"], "commands.j2: en and id must list the same roles"
