"""Data-subject requests: person show / erase, retention (UU 27/2022)."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from bot.config import Settings
from bot.db import Database, open_migrated
from bot.logs import setup_logging
from bot.runlock import acquire_run_lock
from bot.services.persons import (
    erase_recipient,
    find_recipient_id,
    placeholder_nik,
    run_retention,
    show_person,
)
from tests.cli_helpers import run_cli

# The database-backed tests run on SQLite and on PostgreSQL (tests/pg_databases.py).
pytestmark = pytest.mark.both_engines

NIK = "3328064507850003"
NAME = "Warsini Kartikasari"
PHONE = "6281234567890"
ADDRESS = "Jl. Melati Gg. 7 RT 03 RW 02"
OTHER_NIK = "3328061203800001"
OTHER_NAME = "Rohmat Sugiarto"
T0 = "2024-01-05T08:00:00+00:00"


async def seed(db: Database) -> tuple[int, int]:
    """A facilitator, the person (with account, draft, reports, visit, flag, audit) and another."""
    async with db.transaction() as c:
        await c.execute(
            "INSERT INTO desa (id, kecamatan_code, name) VALUES (1, '33.28.06', 'Lebaksiu Kidul')"
        )
        await c.execute(
            "INSERT INTO facilitators (id, code, name, phone, kecamatan_code, created_at,"
            " updated_at) VALUES (1, 'PD-101', 'Pendamping Satu', '6285700000001', '33.28.06',"
            " ?, ?)",
            (T0, T0),
        )
        for rid, nik, name, phone in ((1, NIK, NAME, PHONE), (2, OTHER_NIK, OTHER_NAME, None)):
            await c.execute(
                "INSERT INTO recipients (id, nik, p3ke_family_id, name, gender, birth_date,"
                " address, kecamatan_code, desa_id, phone, household_size, programme,"
                " assistance_value, facilitator_id, status, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, 'P', '1985-07-05', ?, '33.28.06', 1, ?, 4,"
                " 'menjahit', 2500000, 1, 'active', ?, ?)",
                (
                    rid,
                    nik,
                    f"P3KE-99887{rid + 6}",
                    name,
                    ADDRESS if rid == 1 else None,
                    phone,
                    T0,
                    T0,
                ),
            )
        await c.execute(
            "INSERT INTO accounts (id, telegram_user_id, chat_id, display_name, role,"
            " recipient_id, linked_at) VALUES (10, 7001, 7001, 'Warsini K', 'recipient', 1, ?)",
            (T0,),
        )
        answers = {
            "business_status": "berjalan",
            "revenue": 1500000,
            "notes": f"Bu {NAME} minta bantuan, hp {PHONE}",
            "photo": "AgACAgUAAxkBAAIB",
        }
        await c.execute(
            "INSERT INTO reports (id, recipient_id, period, reporter_role, reporter_account_id,"
            " submitted_at, business_status, revenue, costs, profit, photo_file_id,"
            " photo_unique_id, answers) VALUES (1, 1, '2024-01', 'recipient', 10, ?,"
            " 'berjalan', 1500000, 700000, 800000, 'AgACAgUAAxkBAAIB', 'AQADunique', ?)",
            (T0, json.dumps(answers)),
        )
        await c.execute(
            "INSERT INTO reports (id, recipient_id, period, reporter_role, submitted_at,"
            " business_status, revenue, answers) VALUES (2, 2, '2024-01', 'facilitator', ?,"
            " 'berjalan', 900000, ?)",
            (T0, json.dumps({"notes": f"{OTHER_NAME} sehat"})),
        )
        await c.execute(
            "INSERT INTO report_drafts (account_id, recipient_id, form, period, reporter_role,"
            " answers, created_at, updated_at) VALUES (10, 1, 'monthly', '2024-02', 'recipient',"
            " ?, ?, ?)",
            (json.dumps({"notes": NAME}), T0, T0),
        )
        await c.execute(
            "INSERT INTO visits (recipient_id, facilitator_id, visit_date, score_quality, notes,"
            " created_at) VALUES (1, 1, '2024-01-20', 4, ?, ?)",
            (f"Rumah {NAME}, {ADDRESS}", T0),
        )
        await c.execute(
            "INSERT INTO report_flags (recipient_id, period, kind, report_id, details, created_at)"
            " VALUES (1, '2024-01', 'jump', 1, ?, ?)",
            (json.dumps({"before": 100000, "after": 1500000, "who": NAME}), T0),
        )
        await c.execute(
            "INSERT INTO audit_log (at, actor, action, entity, entity_id, details)"
            " VALUES (?, 'cli', 'recipient.import', 'recipient', '1', ?)",
            (T0, json.dumps({"name": NAME, "nik": NIK, "phone": PHONE})),
        )
        # A table a later migration might add: covered through its foreign key alone.
        await c.execute(
            "CREATE TABLE future_notes (id INTEGER PRIMARY KEY,"
            " recipient_id INTEGER NOT NULL REFERENCES recipients(id),"
            " amount INTEGER, comment TEXT, kind TEXT NOT NULL)"
        )
        await c.execute(
            "INSERT INTO future_notes (recipient_id, amount, comment, kind)"
            " VALUES (1, 250000, ?, 'catatan')",
            (f"telp {PHONE} a.n. {NAME}",),
        )
    return 1, 2


def raw_bytes(path: str) -> bytes:
    data = b""
    for suffix in ("", "-wal", "-journal"):
        p = Path(path + suffix)
        if p.exists():
            data += p.read_bytes()
    return data


def secrets_in(data: bytes) -> list[str]:
    needles = [NIK, NAME, "Warsini", "Kartikasari", PHONE, "081234567890", ADDRESS, "P3KE-998877"]
    return [n for n in needles if n.encode() in data or n.encode("utf-16-le") in data]


async def test_show_lists_every_table_that_refers_to_the_person(db, clock) -> None:
    await seed(db)
    record = await show_person(db, NIK, clock())
    assert record.recipient["name"] == NAME
    assert record.region == {
        "kecamatan_code": "33.28.06",
        "kecamatan": "Lebaksiu",
        "desa": "Lebaksiu Kidul",
        "desa_code": None,
    }
    assert record.facilitator["code"] == "PD-101"
    assert [a["id"] for a in record.related["accounts"]] == [10]
    assert {r["id"] for r in record.related["reports"]} == {1}  # not the other person's
    for table in ("report_drafts", "visits", "report_flags", "future_notes"):
        assert len(record.related[table]) == 1, table
    assert record.audit[0]["action"] == "recipient.import"
    shown = await db.fetchone("SELECT * FROM audit_log WHERE action = 'person.show'")
    assert shown["entity_id"] == "1"
    assert NIK not in shown["details"] and "3328********0003" in shown["details"]


async def test_unknown_nik_is_a_clear_error(db, clock) -> None:
    await seed(db)
    with pytest.raises(Exception, match=r"no person with NIK 3328\*+9999"):
        await find_recipient_id(db, "3328060101900999"[:12] + "9999")
    with pytest.raises(Exception, match="16 digits"):
        await find_recipient_id(db, "123")


@pytest.mark.sqlite_only  # reads the SQLite file's and its WAL's raw bytes
async def test_erase_leaves_no_trace_in_file_wal_or_logs(settings: Settings, clock) -> None:
    stream = io.StringIO()
    setup_logging(level=logging.DEBUG, stream=stream)
    try:
        db = await open_migrated(settings.database, clock())
        try:
            await seed(db)
            await show_person(db, NIK, clock())
            assert secrets_in(raw_bytes(settings.database))  # the needles are there before
            clock.advance(days=1)
            result = await erase_recipient(db, 1, f"permintaan {NAME} sendiri", clock())
            assert result.compacted
            # What is kept: region, programme, numbers; the other person untouched.
            rec = await db.fetchone("SELECT * FROM recipients WHERE id = 1")
            assert rec["nik"] == placeholder_nik(1) == "X000000000000001"
            assert (rec["kecamatan_code"], rec["desa_id"], rec["programme"]) == (
                "33.28.06",
                1,
                "menjahit",
            )
            assert (rec["assistance_value"], rec["household_size"], rec["gender"]) == (
                2500000,
                4,
                "P",
            )
            assert rec["phone"] is None and rec["address"] is None and rec["birth_date"] is None
            assert rec["p3ke_family_id"] is None and rec["status"] == "ended"
            report = await db.fetchone("SELECT * FROM reports WHERE id = 1")
            assert (report["revenue"], report["costs"], report["profit"]) == (
                1500000,
                700000,
                800000,
            )
            assert report["photo_file_id"] is None and report["reporter_account_id"] is None
            assert json.loads(report["answers"]) == {
                "business_status": "berjalan",
                "revenue": 1500000,
                "notes": None,
                "photo": None,
            }
            assert await db.fetchval("SELECT count(*) FROM accounts") == 0
            assert await db.fetchval("SELECT count(*) FROM report_drafts") == 0
            visit = await db.fetchone("SELECT * FROM visits")
            assert visit["notes"] is None and visit["score_quality"] == 4
            note = await db.fetchone("SELECT * FROM future_notes")
            assert (note["amount"], note["comment"], note["kind"]) == (250000, None, "catatan")
            other = await db.fetchone("SELECT * FROM recipients WHERE id = 2")
            assert (other["nik"], other["name"]) == (OTHER_NIK, OTHER_NAME)
            other_report = await db.fetchone("SELECT answers FROM reports WHERE id = 2")
            assert OTHER_NAME in other_report["answers"]
            audit = await db.fetchone("SELECT * FROM audit_log WHERE action = 'person.erase'")
            details = json.loads(audit["details"])
            assert details["nik"] == "3328********0003"
            assert details["reason"] == "permintaan [dihapus] sendiri"
            assert details["deleted"]["accounts"] == 1
        finally:
            await db.close()
    finally:
        setup_logging()
    assert secrets_in(raw_bytes(settings.database)) == []
    assert not Path(settings.database + "-wal").exists() or (
        Path(settings.database + "-wal").stat().st_size == 0
    )
    logs = stream.getvalue()
    assert "event=person_erased recipient_id=1" in logs
    assert secrets_in(logs.encode()) == []


async def test_erase_while_the_bot_runs(settings: Settings, clock) -> None:
    """The bot holds the run lock and its own connection: no VACUUM, still nothing left."""
    bot_db = await open_migrated(settings.database, clock())
    lock = acquire_run_lock(settings.database)
    cli_db = await Database.open(settings.database)
    try:
        await seed(bot_db)
        await bot_db.fetchall("SELECT * FROM recipients")  # the bot has read the rows
        result = await erase_recipient(cli_db, 1, "permintaan", clock())
        assert result.compacted
        assert secrets_in(raw_bytes(settings.database)) == []
        # The bot goes on working on the same file.
        await bot_db.execute(
            "INSERT INTO audit_log (at, actor, action) VALUES ('t', 'system', 'tick')"
        )
        assert await bot_db.fetchval("SELECT name FROM recipients WHERE id = 2") == OTHER_NAME
    finally:
        await cli_db.close()
        lock.release()
        await bot_db.close()
    assert secrets_in(raw_bytes(settings.database)) == []


async def test_erase_twice_is_refused(db, clock) -> None:
    await seed(db)
    await erase_recipient(db, 1, "test", clock(), compact=False)
    with pytest.raises(Exception, match="already erased"):
        await erase_recipient(db, 1, "test", clock(), compact=False)


async def test_retention_with_a_fake_clock(db, clock) -> None:
    await seed(db)
    async with db.transaction() as c:
        await c.execute(
            "UPDATE recipients SET status = 'graduated', status_changed_at ="
            " '2019-01-10T03:00:00+00:00' WHERE id = 1"
        )
        await c.execute(
            "UPDATE recipients SET status = 'ended', status_changed_at ="
            " '2022-06-01T03:00:00+00:00' WHERE id = 2"
        )
    clock.set(dt.datetime(2024, 1, 10, 2, 59, tzinfo=dt.UTC))
    assert await run_retention(db, 5, clock()) == []  # one minute short of five years
    clock.set(dt.datetime(2024, 1, 10, 3, 0, tzinfo=dt.UTC))
    assert await run_retention(db, 5, clock(), dry_run=True) == [1]
    assert await db.fetchval("SELECT nik FROM recipients WHERE id = 1") == NIK  # dry run
    assert await run_retention(db, 5, clock()) == [1]
    assert await db.fetchval("SELECT nik FROM recipients WHERE id = 1") == placeholder_nik(1)
    assert await run_retention(db, 5, clock()) == []  # done once
    clock.set(dt.datetime(2027, 6, 1, 3, 0, tzinfo=dt.UTC))
    assert await run_retention(db, 5, clock()) == [2]
    assert await run_retention(db, 0, clock()) == []  # 0 = off
    rows = await db.fetchall(
        "SELECT actor, entity_id FROM audit_log WHERE action = 'person.retention' ORDER BY id"
    )
    assert [(r["actor"], r["entity_id"]) for r in rows] == [("system", "1"), ("system", "2")]
    status = await db.fetchone("SELECT status, status_changed_at FROM recipients WHERE id = 1")
    assert tuple(status) == ("graduated", "2019-01-10T03:00:00+00:00")  # kept for statistics


def _seeded_file(tmp_path: Path) -> Path:
    import asyncio

    path = tmp_path / "p.db"

    async def go() -> None:
        db = await open_migrated(str(path), dt.datetime(2024, 1, 1, tzinfo=dt.UTC))
        await seed(db)
        await db.close()

    asyncio.run(go())
    return path


def test_cli_show_and_erase(tmp_path: Path) -> None:
    path = _seeded_file(tmp_path)
    env = {"PENDAMPING_DB": str(path)}
    shown = run_cli("person", "show", "--nik", NIK, cwd=tmp_path, env=env)
    assert shown.returncode == 0, shown.stderr
    assert NAME in shown.stdout and "== future_notes (1)" in shown.stdout
    as_json = run_cli("person", "show", "--nik", NIK, "--json", cwd=tmp_path, env=env)
    assert json.loads(as_json.stdout)["recipient"]["phone"] == PHONE
    missing = run_cli("person", "show", "--nik", "3328060101900099", cwd=tmp_path, env=env)
    assert missing.returncode == 1 and "no person with NIK 3328********0099" in missing.stderr
    unconfirmed = run_cli("person", "erase", "--nik", NIK, "--reason", "x", cwd=tmp_path, env=env)
    assert unconfirmed.returncode == 2 and "--yes" in unconfirmed.stderr
    erased = run_cli(
        "person", "erase", "--nik", NIK, "--reason", "permintaan", "--yes", cwd=tmp_path, env=env
    )
    assert erased.returncode == 0, erased.stderr
    assert "erased person 1 (NIK 3328********0003)" in erased.stdout
    assert secrets_in(raw_bytes(str(path))) == []
    conn = sqlite3.connect(path)
    actions = [r[0] for r in conn.execute("SELECT action FROM audit_log ORDER BY id")]
    conn.close()
    assert actions == ["recipient.import", "person.show", "person.show", "person.erase"]


def test_cli_retention_dry_run_and_run(tmp_path: Path) -> None:
    path = _seeded_file(tmp_path)
    conn = sqlite3.connect(path)
    conn.execute(
        "UPDATE recipients SET status = 'graduated', status_changed_at = '2018-03-01T00:00:00Z'"
        " WHERE id = 1"
    )
    conn.commit()
    conn.close()
    env = {"PENDAMPING_DB": str(path)}
    dry = run_cli("retention", "--now", "2024-01-01T00:00:00", "--dry-run", cwd=tmp_path, env=env)
    assert dry.returncode == 0, dry.stderr
    assert "1 people due" in dry.stdout
    done = run_cli("retention", "--now", "2024-01-01T00:00:00", cwd=tmp_path, env=env)
    assert "1 people anonymised" in done.stdout
    assert secrets_in(raw_bytes(str(path))) == []


def test_default_settings_keep_retention_on() -> None:
    assert replace(Settings()).retention.anonymise_after_years == 5
