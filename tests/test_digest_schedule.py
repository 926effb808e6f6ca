"""Digests from the database (scores, risk_flags, graduation_cases of migration 0005) and their
scheduling through the outbox (plan_digests). Fixture rows: tests/digest_db.py plus the score
rows below; every expected number is counted by hand in the comments."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image

from bot.config import Settings
from bot.db import Database
from bot.domain.scoring import params_from_settings
from bot.services.cycle import iso
from bot.services.digest_data import build_staff_digest, load_snapshots
from bot.services.digest_schedule import plan_digests, weekly_slot
from bot.services.doctor import check_digest
from tests.digest_db import seed

# The database-backed tests run on SQLite and on PostgreSQL (tests/pg_databases.py).
pytestmark = pytest.mark.both_engines

WIB = dt.timezone(dt.timedelta(hours=7))
MONDAY = dt.datetime(2024, 2, 5, 8, 0, tzinfo=WIB).astimezone(dt.UTC)  # period 2024-01 open
T = "2024-01-01T00:00:00+00:00"


async def _scores(db: Database, settings: Settings) -> None:
    """Current model: Siti siap, Rina menuju (siap under an OLD model), Wati intensif.
    Risk flags: Wati income_drop 2024-01 (created 3 Feb), Siti no_report 2023-10 (too old).
    Graduation: Sri has a case confirmed by the facilitator (no score at all)."""
    current = params_from_settings(settings).model_version
    async with db.transaction() as c:
        for version in ("0.9+old", current):
            await c.execute(
                "INSERT INTO score_models (version, label, params, created_at)"
                " VALUES (?, ?, '{}', ?)",
                (version, version.split("+")[0], T),
            )
        rows = [
            (1, "2024-01", current, 80, "siap", "2024-02-04T00:00:00+00:00"),
            (2, "2024-01", current, 60, "menuju", "2024-02-04T00:00:00+00:00"),
            # the old model's row was computed later: it still must not count
            (2, "2024-01", "0.9+old", 85, "siap", "2024-02-05T00:00:00+00:00"),
            (3, "2023-12", current, 30, "intensif", "2024-01-04T00:00:00+00:00"),
        ]
        for rid, period, version, score, band, at in rows:
            await c.execute(
                "INSERT INTO scores (recipient_id, period, model_version, score, band,"
                " gate_months, confidence, components, inputs, computed_at)"
                " VALUES (?, ?, ?, ?, ?, 0, 80, '[]', '{}', ?)",
                (rid, period, version, score, band, at),
            )
        await c.execute(
            "INSERT INTO risk_flags (recipient_id, period, kind, created_at)"
            " VALUES (3, '2024-01', 'income_drop', '2024-02-03T00:00:00+00:00')"
        )
        await c.execute(
            "INSERT INTO risk_flags (recipient_id, period, kind, created_at)"
            " VALUES (1, '2023-10', 'no_report', '2023-11-15T00:00:00+00:00')"
        )
        await c.execute(
            "INSERT INTO graduation_cases (recipient_id, kind, status, created_at)"
            " VALUES (6, 'graduation', 'confirmed', ?)",
            (T,),
        )


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """MONDAY (5 February) is only 4 days into period 2024-01: these tests are about planning,
    so the opening-week rule is off here (test_no_weekly_digest_in_the_opening_week has it)."""
    return replace(settings, digest=replace(settings.digest, min_open_days=0))


async def test_no_weekly_digest_in_the_opening_week(seeded: Database, settings) -> None:
    cfg = replace(staff_settings(settings, -100), digest=Settings().digest)  # 7 days
    # 2024-04-01 is a Monday and the opening day of period 2024-03: no digest at 0%
    day1 = dt.datetime(2024, 4, 1, 8, 0, tzinfo=WIB).astimezone(dt.UTC)
    assert (await plan_digests(seeded, cfg, day1)).planned == []
    # 5 February: period 2024-01 opened 4 days ago, still too early
    assert (await plan_digests(seeded, cfg, MONDAY)).planned == []
    # 12 February: 11 days open, every weekly digest goes
    plan = await plan_digests(seeded, cfg, MONDAY + dt.timedelta(days=7))
    assert sorted(p.kind for p in plan.planned) == ["facilitator_weekly", "staff_weekly"]
    # the cycle opened the period late (an outage until 8 April): 8 April is its first week
    three = replace(cfg, digest=replace(cfg.digest, min_open_days=3))
    await seeded.execute(
        "INSERT INTO cycle_periods (period, opened_at) VALUES ('2024-03', ?)",
        (iso(dt.datetime(2024, 4, 6, 9, 0, tzinfo=WIB)),),
    )
    day8 = day1 + dt.timedelta(days=7)
    assert (await plan_digests(seeded, three, day8)).planned == []
    assert (await plan_digests(seeded, three, day8 + dt.timedelta(days=7))).planned != []


@pytest.fixture
async def seeded(db: Database, settings: Settings) -> Database:
    await seed(db)
    await _scores(db, settings)
    return db


def staff_settings(settings: Settings, *chats: int) -> Settings:
    return replace(settings, chats=replace(settings.chats, staff=list(chats)))


async def test_snapshots_read_scores_of_the_current_model(seeded: Database, settings) -> None:
    snaps = {s.name: s for s in await load_snapshots(seeded, "2024-01", settings=settings)}
    # Siti: siap, not proposed yet: waiting for her facilitator's visit, not for staff
    assert snaps["Siti"].band == "siap" and snaps["Siti"].ready and not snaps["Siti"].candidate
    assert snaps["Rina"].band == "menuju" and not snaps["Rina"].candidate
    assert snaps["Wati"].band == "intensif" and not snaps["Wati"].candidate
    assert snaps["Sri"].band is None and snaps["Sri"].candidate  # confirmed case, no score
    # Wati: the open help_request (report_flags) and the income_drop risk flag
    assert sorted(f.kind for f in snaps["Wati"].flags) == ["help_request", "income_drop"]
    assert snaps["Siti"].flags == ()  # the 2023-10 risk flag is too old for 2024-01


async def test_staff_digest_counts_risk_flags_and_candidates(seeded: Database, settings) -> None:
    since = dt.datetime(2024, 2, 2, 12, tzinfo=dt.UTC)
    d = await build_staff_digest(seeded, "2024-01", since, settings=settings)
    # new since 2 Feb 12:00: income_drop (3 Feb) only; help_request was raised 2 Feb 01:00
    assert [(f.recipient.name, f.kind) for f in d.new_flags] == [("Wati", "income_drop")]
    assert d.open_flags == 2
    # awaiting staff's decision: Sri's confirmed proposal only; Siti waits for a visit
    assert [p.name for p in d.candidates] == ["Sri"]
    assert [p.name for p in d.awaiting_visit] == ["Siti"]


def test_weekly_slot_monday_0800_wib(settings: Settings) -> None:
    assert weekly_slot(MONDAY, settings) == MONDAY
    assert weekly_slot(MONDAY - dt.timedelta(minutes=1), settings) is None
    late = MONDAY + dt.timedelta(hours=23, minutes=59)  # after an outage: still this week's
    assert weekly_slot(late, settings) == MONDAY
    assert weekly_slot(MONDAY + dt.timedelta(hours=24), settings) is None
    thursday = replace(settings, digest=replace(settings.digest, weekday=3, hour=9))
    slot = weekly_slot(dt.datetime(2024, 2, 8, 2, 0, tzinfo=dt.UTC), thursday)
    assert slot == dt.datetime(2024, 2, 8, 9, 0, tzinfo=WIB)


async def _staff_account(db: Database, kecamatan: str | None, role: str = "staff") -> int:
    return await db.execute(
        "INSERT INTO accounts (telegram_user_id, chat_id, role, kecamatan_code, linked_at)"
        " VALUES (?, ?, ?, ?, ?)",
        (500 + (await db.fetchval("SELECT count(*) FROM accounts")), 0, role, kecamatan, T),
    )


async def _outbox(db: Database) -> list[dict]:
    return [dict(r) for r in await db.fetchall("SELECT * FROM outbox ORDER BY id")]


async def test_weekly_plans_once_per_chat_and_scopes_staff(seeded: Database, settings) -> None:
    cfg = staff_settings(settings, -100)
    acc = await _staff_account(seeded, "33.28.10")
    await seeded.execute("UPDATE accounts SET chat_id = 7001 WHERE id = ?", (acc,))
    assert (await plan_digests(seeded, cfg, MONDAY - dt.timedelta(minutes=1))).planned == []
    plan = await plan_digests(seeded, cfg, MONDAY)
    assert sorted((p.kind, p.chat_id) for p in plan.planned) == [
        ("facilitator_weekly", 103),
        ("staff_weekly", -100),
        ("staff_weekly", 7001),
    ]
    assert (await plan_digests(seeded, cfg, MONDAY + dt.timedelta(minutes=1))).planned == []
    rows = {r["chat_id"]: r for r in await _outbox(seeded)}
    assert len(rows) == 3 and all(r["kind"] == "digest" for r in rows.values())
    assert rows[-100]["step"] == "weekly:2024-02-05" and rows[-100]["period"] == "2024-01"
    assert "Kabupaten Tegal" in rows[-100]["text"] and "dari 4" in rows[-100]["text"]
    # the Slawi staff member: Wati only (Yuni paused, Dewi handed over later)
    assert "Kec. Slawi" in rows[7001]["text"] and "Sudah lapor: 0 dari 1" in rows[7001]["text"]
    assert "Ringkasan mingguan keluarga dampingan" in rows[103]["text"]
    # risk flags shown this week are digested
    pending = await seeded.fetchval("SELECT count(*) FROM risk_flags WHERE digested_at IS NULL")
    assert pending == 0


async def test_new_flags_are_those_since_the_previous_digest(seeded: Database, settings) -> None:
    cfg = staff_settings(settings, -100)
    await plan_digests(seeded, cfg, MONDAY)
    first = (await _outbox(seeded))[0]["text"]
    # a week before 5 Feb: help_request (2 Feb) and income_drop (3 Feb) are new
    assert "Tanda risiko baru: 2 (semua terbuka: 2)" in first
    await seeded.execute(
        "INSERT INTO risk_flags (recipient_id, period, kind, created_at)"
        " VALUES (1, '2024-01', 'business_stopped', '2024-02-07T00:00:00+00:00')"
    )
    await plan_digests(seeded, cfg, MONDAY + dt.timedelta(days=7))
    second = [r for r in await _outbox(seeded) if r["chat_id"] == -100][1]["text"]
    assert "Tanda risiko baru: 1 (semua terbuka: 3)" in second


async def test_monthly_at_close_text_charts_export(seeded: Database, settings) -> None:
    cfg = staff_settings(settings, -100)
    await _staff_account(seeded, "33.28.10")  # Slawi: no report in 2024-01
    close = dt.datetime(2024, 2, 20, 8, 0, tzinfo=WIB).astimezone(dt.UTC)
    assert (await plan_digests(seeded, cfg, close)).planned == []  # not closed yet
    await seeded.execute(
        "INSERT INTO cycle_periods (period, closed_at) VALUES ('2024-01', ?)", (iso(close),)
    )
    plan = await plan_digests(seeded, cfg, close)
    assert sorted((p.chat_id, p.parts) for p in plan.planned) == [(-100, 5), (0, 2)]
    assert (await plan_digests(seeded, cfg, close + dt.timedelta(minutes=1))).planned == []
    group = [r for r in await _outbox(seeded) if r["chat_id"] == -100]
    assert [r["step"] for r in group] == [
        "monthly",
        "monthly:chart:2024-01-respons-kecamatan",
        "monthly:chart:2024-01-laba-program",
        "monthly:chart:2024-01-skor-kecamatan",
        "monthly:export",
    ]
    assert group[0]["text"].startswith("Laporan bulanan") and "Grafik (3)" in group[0]["text"]
    for r in group[1:4]:
        att = json.loads(r["attachment"])
        assert att["type"] == "photo"
        assert Image.open(att["path"]).format == "PNG"
    doc = json.loads(group[4]["attachment"])
    assert doc["type"] == "document" and doc["filename"].endswith(".xlsx")
    assert Path(doc["path"]).stat().st_size > 0
    # the Slawi account: no reports in its region -> the text and the export, no chart
    slawi = [r for r in await _outbox(seeded) if r["chat_id"] == 0]
    assert [r["step"] for r in slawi] == ["monthly", "monthly:export"]
    assert "Belum ada laporan yang masuk" in slawi[0]["text"]


async def test_monthly_files_built_once_per_region(seeded: Database, settings) -> None:
    cfg = staff_settings(settings, -100, -300)  # two kabupaten groups
    close = dt.datetime(2024, 2, 20, 8, 0, tzinfo=WIB).astimezone(dt.UTC)
    await seeded.execute(
        "INSERT INTO cycle_periods (period, closed_at) VALUES ('2024-01', ?)", (iso(close),)
    )
    await plan_digests(seeded, cfg, close)
    files = {}
    for r in await _outbox(seeded):
        if r["attachment"]:
            files.setdefault(r["chat_id"], []).append(json.loads(r["attachment"])["path"])
    assert len(files[-100]) == 4 and files[-100] == files[-300]


async def test_unreachable_chat_is_skipped(seeded: Database, settings) -> None:
    cfg = staff_settings(settings, -100, -200)
    await seeded.execute(
        "INSERT INTO unreachable_chats (chat_id, reason, since) VALUES (-200, 'x', ?)", (T,)
    )
    plan = await plan_digests(seeded, cfg, MONDAY)
    assert -200 not in {p.chat_id for p in plan.planned} and -100 in {
        p.chat_id for p in plan.planned
    }


async def test_doctor_reads_the_last_sent_digest(seeded: Database, settings) -> None:
    check = await check_digest(seeded, MONDAY)
    assert check.status == "WARN" and "no digest sent yet" in check.message
    await plan_digests(seeded, staff_settings(settings, -100), MONDAY)
    row = await seeded.fetchval("SELECT outbox_id FROM digest_runs WHERE chat_id = -100")
    await seeded.execute(
        "UPDATE digest_runs SET sent_at = ? WHERE outbox_id = ?",
        (iso(MONDAY + dt.timedelta(minutes=1)), row),
    )
    check = await check_digest(seeded, MONDAY + dt.timedelta(hours=2))
    assert check.status == "OK" and "last digest" in check.message


async def test_digest_planned_at_night_waits_for_the_morning(seeded: Database, settings) -> None:
    night = dt.datetime(2024, 2, 5, 22, 0, tzinfo=WIB).astimezone(dt.UTC)  # after an outage
    await plan_digests(seeded, staff_settings(settings, -100), night)
    (row,) = [r for r in await _outbox(seeded) if r["chat_id"] == -100]
    assert row["not_before"] == iso(dt.datetime(2024, 2, 6, 6, 0, tzinfo=WIB))


async def test_pendamping_tick_plans_the_weekly_digests(tmp_path) -> None:
    from bot.db import open_migrated
    from tests import cycle_seed
    from tests.cli_helpers import run_cli

    path = str(tmp_path / "p.db")
    db = await open_migrated(path)
    try:
        budi = await cycle_seed.facilitator(db, "Budi", chat_id=2001)
        await cycle_seed.recipient(db, "Siti", facilitator_id=budi)
    finally:
        await db.close()
    env = {"PENDAMPING_DB": path}
    r = run_cli("tick", "--now", "2024-02-12T08:00", cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stderr
    assert "planned digest facilitator_weekly 2024-01 -> facilitator Budi" in r.stdout
    r = run_cli("tick", "--now", "2024-02-12T08:01", cwd=tmp_path, env=env)
    assert r.returncode == 0 and "planned digest" not in r.stdout


async def test_mid_month_message_is_compact_and_the_only_one_that_day(seeded, settings) -> None:
    from bot.services.cycle import tick

    # the weekly digest on Thursdays: 15 February 2024, the staff escalation's day, is one
    cfg = staff_settings(settings, -100)
    cfg = replace(cfg, digest=replace(cfg.digest, weekday=3))
    day15 = dt.datetime(2024, 2, 15, 8, 0, tzinfo=WIB).astimezone(dt.UTC)
    await tick(seeded, cfg, day15)  # the minute job: tick first, then the digests
    plan = await plan_digests(seeded, cfg, day15)
    assert [p.kind for p in plan.planned] == ["facilitator_weekly"]
    group = [r for r in await _outbox(seeded) if r["chat_id"] == -100]
    assert [(r["kind"], r["step"]) for r in group] == [("cycle", "escalate_staff")]
    # compact: one line per facilitator, no blank line between them
    assert "- Ani: 1 sudah, 1 belum\n- Budi: 1 sudah, 1 belum\n" in group[0]["text"]
    assert "\n\n" not in group[0]["text"]
    # later the same day (catch-up), and the digest's own order reversed: still one
    assert (await plan_digests(seeded, cfg, day15 + dt.timedelta(hours=3))).planned == []
    # the next Thursday the weekly digest goes again
    plan = await plan_digests(seeded, cfg, day15 + dt.timedelta(days=7))
    assert "staff_weekly" in [p.kind for p in plan.planned]


async def test_digest_before_the_escalation_on_its_day_waits_for_it(seeded, settings) -> None:
    # a digest hour before the cycle's delivery hour: the escalation has not run yet
    cfg = staff_settings(settings, -100)
    cfg = replace(cfg, digest=replace(cfg.digest, weekday=3, hour=7))
    at7 = dt.datetime(2024, 2, 15, 7, 0, tzinfo=WIB).astimezone(dt.UTC)
    plan = await plan_digests(seeded, cfg, at7)
    assert "staff_weekly" not in [p.kind for p in plan.planned]


async def test_monthly_after_the_close_counts_those_whose_mentoring_it_ended(
    seeded: Database, settings
) -> None:
    from openpyxl import load_workbook

    from bot.services.cycle import tick

    # four periods of mentoring from a hand-over on 1 October 2023: 2023-10 .. 2024-01, so the
    # close of 2024-01 ends Siti, Rina and Wati (Yuni is paused; Sri has no hand-over date)
    cfg = staff_settings(settings, -100)
    cfg = replace(cfg, cycle=replace(cfg.cycle, mentoring_periods=4))
    close = dt.datetime(2024, 2, 20, 8, 0, tzinfo=WIB).astimezone(dt.UTC)
    result = await tick(seeded, cfg, close)
    assert sorted(result.ended) == [1, 2, 3]
    await plan_digests(seeded, cfg, close)  # the minute job: after the tick
    group = [r for r in await _outbox(seeded) if r["chat_id"] == -100 and r["kind"] == "digest"]
    text = group[0]["text"]
    assert "Tidak ada penerima yang wajib melapor" not in text
    # Siti and Sri reported; Rina drafting, Wati silent: the period as it was at its close
    assert "Sudah lapor: 2 dari 4 (50%)" in text and "Belum lapor: 2" in text
    export = json.loads(group[-1]["attachment"])["path"]
    rows = load_workbook(export, read_only=True)["penerima"].iter_rows(min_row=2, values_only=True)
    status = {r[2]: r[9] for r in rows}
    assert status["Siti"] == "sudah lapor" and status["Wati"] == "belum lapor"
    assert status["Yuni"] == "-"  # paused before the close: not expected
    # the next period's weekly digest no longer counts them
    nxt = await build_staff_digest(seeded, "2024-02", close + dt.timedelta(days=20))
    assert nxt.total.total == 1  # Sri only
