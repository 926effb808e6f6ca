"""Erasure and retention reach every stored text and every file the program wrote: messages
about the person in other people's chats (help requests and "unreachable" notices to the
facilitator, digests listing the family), digest files under `digests/`, and delivered
messages, whose text is kept only `[outbox] keep_text_hours`."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from bot.db import Database
from bot.services.outbox import clear_settled_texts
from bot.services.persons import erase_recipient, run_retention
from bot.services.spreadsheets import write_workbook
from bot.services.upkeep import after_tick
from tests.test_persons import ADDRESS, NAME, OTHER_NAME, PHONE, raw_bytes, secrets_in, seed

# The database-backed tests run on SQLite and on PostgreSQL (tests/pg_databases.py).
pytestmark = pytest.mark.both_engines

FREE_TEXT = "atap rumah bocor di belakang dapur"
FAC_CHAT = 8001
STAFF_CHAT = -100500
T_SENT = "2024-01-10T03:00:00+00:00"


async def _messages_about_the_person(db: Database, now: dt.datetime) -> dict[str, int]:
    """The rows the old erasure left behind, as the bot writes them (templates' wording)."""
    async with db.transaction() as c:
        await c.execute(
            "INSERT INTO accounts (id, telegram_user_id, chat_id, display_name, role,"
            " facilitator_id, linked_at) VALUES (20, ?, ?, 'Pak Pendamping', 'facilitator', 1, ?)",
            (FAC_CHAT, FAC_CHAT, T_SENT),
        )
        rows = {
            "help_sent": ("notice", "acc:20", "notice_help_request:1", 20, FAC_CHAT, "sent",
                          f"Permintaan bantuan: {NAME} ingin dikunjungi. Pesan: {FREE_TEXT}"),
            "help_pending": ("notice", "acc:20", "notice_help_request:2", 20, FAC_CHAT, "pending",
                             f"Permintaan bantuan: {NAME} ingin dikunjungi. Pesan: {FREE_TEXT}"),
            "unreachable": ("notice", "acc:20", "unreachable:acc:10", 20, FAC_CHAT, "sent",
                            f"{NAME} (Lebaksiu Kidul) tidak bisa dihubungi: memblokir bot"),
            "digest_pending": ("digest", f"chat:{STAFF_CHAT}", "weekly", None, STAFF_CHAT,
                               "pending", f"Belum lapor: {NAME}; {OTHER_NAME}"),
            "escalation_sent": ("cycle", "acc:20", "escalate_facilitator", 20, FAC_CHAT, "sent",
                                f"Keluarga belum lapor:\n- {NAME.upper()} (Lebaksiu Kidul)"),
            "phone_sent": ("notice", "acc:20", "contact:1", 20, FAC_CHAT, "sent",
                           f"Nomor keluarga: 0{PHONE[2:]}"),
        }  # fmt: skip
        ids = {}
        for key, (kind, person, step, acc, chat, status, text) in rows.items():
            cur = await c.execute(
                "INSERT INTO outbox (kind, person, period, step, account_id, chat_id, text,"
                " status, not_before, created_at, sent_at) VALUES (?, ?, '2024-01', ?, ?, ?, ?,"
                " ?, ?, ?, ?)",
                (kind, person, step, acc, chat, text, status, T_SENT, T_SENT,
                 T_SENT if status == "sent" else None),
            )  # fmt: skip
            ids[key] = cur.lastrowid
    return ids


def _digest_files(files_dir: Path | None) -> tuple[Path, Path]:
    assert files_dir is not None
    folder = files_dir / "digests" / "2024-01" / "kabupaten-id"
    folder.mkdir(parents=True)
    naming = folder / "pendamping-2024-01-ekspor.xlsx"
    write_workbook(naming, [("penerima", ["nama", "desa"], [[NAME, "Lebaksiu Kidul"],
                                                            [OTHER_NAME, "Lebaksiu Kidul"]])])  # fmt: skip
    other = files_dir / "digests" / "2024-01" / "33.28.10-id"
    other.mkdir()
    keep = other / "pendamping-2024-01-33.28.10-ekspor.xlsx"
    write_workbook(keep, [("penerima", ["nama"], [[OTHER_NAME]])])
    return naming, keep


async def test_erase_reaches_other_chats_messages_and_digest_files(db, clock) -> None:
    await seed(db)
    ids = await _messages_about_the_person(db, clock())
    naming, keep = _digest_files(db.files_dir)
    async with db.transaction() as c:  # the monthly export waiting to go with that file
        await c.execute(
            "INSERT INTO outbox (kind, person, period, step, chat_id, text, status, not_before,"
            " created_at, attachment) VALUES ('digest', ?, '2024-01', 'monthly:export', ?, '',"
            " 'pending', ?, ?, ?)",
            (f"chat:{STAFF_CHAT}", STAFF_CHAT, T_SENT, T_SENT,
             json.dumps({"type": "document", "path": str(naming)})),
        )  # fmt: skip
    await db.execute(
        "INSERT INTO broadcasts (audience, text, status, created_at) VALUES ('recipients', ?,"
        " 'done', ?)",
        (f"Selamat untuk {NAME} yang lulus graduasi!", T_SENT),
    )
    result = await erase_recipient(db, 1, "permintaan tertulis", clock())
    broadcast = await db.fetchval("SELECT text FROM broadcasts")
    assert NAME not in broadcast and "[dihapus]" in broadcast
    texts = [r[0] for r in await db.fetchall("SELECT text FROM outbox")]
    leaks = [t for t in texts for s in ("Warsini", "Kartikasari", FREE_TEXT, PHONE[2:]) if s in t]
    assert not leaks, leaks
    # the pending help request about her is gone; the sent ones keep no text
    left = {r["id"]: dict(r) for r in await db.fetchall("SELECT * FROM outbox")}
    assert ids["help_pending"] not in left
    for key in ("help_sent", "unreachable", "escalation_sent", "phone_sent"):
        assert left[ids[key]]["text"] == "" and left[ids[key]]["status"] == "sent", key
    # a digest naming several families keeps the others, still to be sent
    digest = left[ids["digest_pending"]]
    assert digest["status"] == "pending" and OTHER_NAME in digest["text"]
    assert "[dihapus]" in digest["text"]
    # digest files: the one naming her deleted (and its message failed), the other kept
    assert not naming.exists() and keep.exists()
    assert result.files == [naming]
    export = await db.fetchone("SELECT * FROM outbox WHERE step = 'monthly:export'")
    assert export["status"] == "failed" and "erased person" in export["last_error"]
    # and the database file and its WAL hold none of it any more
    data = raw_bytes(db.path)
    assert secrets_in(data) == [] and FREE_TEXT.encode() not in data
    assert ADDRESS.encode() not in data


async def test_retention_leaves_no_name_in_the_outbox(db, clock) -> None:
    await seed(db)
    await _messages_about_the_person(db, clock())
    naming, keep = _digest_files(db.files_dir)
    await db.execute(
        "UPDATE recipients SET status = 'graduated', status_changed_at = ? WHERE id = 1",
        ("2018-01-01T00:00:00+00:00",),
    )
    now = dt.datetime(2024, 1, 10, 4, tzinfo=dt.UTC)  # the sent rows are 1 hour old
    assert await run_retention(db, 5, now) == [1]
    texts = [r[0] for r in await db.fetchall("SELECT text FROM outbox")]
    assert not [t for t in texts if "Warsini" in t or FREE_TEXT in t], texts
    assert not naming.exists() and keep.exists()


async def test_delivered_messages_keep_their_text_only_for_the_audit_window(db, clock) -> None:
    await seed(db)
    ids = await _messages_about_the_person(db, clock())
    naming, _ = _digest_files(db.files_dir)
    await db.execute(
        "UPDATE outbox SET attachment = ? WHERE id = ?",
        (json.dumps({"type": "document", "path": str(naming)}), ids["escalation_sent"]),
    )
    sent_at = dt.datetime.fromisoformat(T_SENT)
    assert await clear_settled_texts(db, sent_at + dt.timedelta(hours=71), 72) == 0
    assert naming.exists()
    assert await clear_settled_texts(db, sent_at + dt.timedelta(hours=72), 72) == 4
    rows = {r["id"]: dict(r) for r in await db.fetchall("SELECT * FROM outbox")}
    for key in ("help_sent", "unreachable", "escalation_sent", "phone_sent"):
        assert rows[ids[key]]["text"] == "" and rows[ids[key]]["sent_at"] == T_SENT, key
    for key in ("help_pending", "digest_pending"):  # not delivered yet: untouched
        assert NAME in rows[ids[key]]["text"], key
    assert not naming.exists()  # the file went with its delivered message
    assert await clear_settled_texts(db, sent_at + dt.timedelta(hours=73), 72) == 0


async def test_the_minute_job_clears_old_texts(db, settings, clock) -> None:
    await seed(db)
    await _messages_about_the_person(db, clock())
    result = await after_tick(db, settings, dt.datetime(2024, 1, 20, tzinfo=dt.UTC))
    assert result.cleared == 4 and not result.errors
    left = await db.fetchval("SELECT count(*) FROM outbox WHERE status = 'sent' AND text <> ''")
    assert left == 0


async def test_retention_of_many_leaves_none_of_their_names_in_what_the_bot_wrote(
    db, settings
) -> None:
    """The cycle's real messages (the facilitator's escalation listing silent families, the
    reminders) and the facilitator's weekly digest, planned and delivered for 40 families;
    then all 40 reach the retention age an hour after delivery (inside the audit window):
    not one of their names may remain in the outbox."""
    from dataclasses import replace

    from bot.services.cycle import tick
    from bot.services.digest_schedule import plan_digests
    from tests import cycle_seed

    wib = dt.timezone(dt.timedelta(hours=7))
    cfg = replace(settings, chats=replace(settings.chats, staff=[-100]))
    desa = await cycle_seed.desa(db, "Kalisapu")
    fac = await cycle_seed.facilitator(db, "Budi", chat_id=2001)
    names = [f"Warga{i:02d} Sukamaju{chr(65 + i % 26)}" for i in range(40)]
    for i, name in enumerate(names):
        chat = 10_000 + i if i % 2 == 0 else None  # half linked, half reported for
        await cycle_seed.recipient(db, name, facilitator_id=fac, desa_id=desa, chat_id=chat)
    for day in (1, 5, 12):
        await tick(db, cfg, dt.datetime(2024, 2, day, 8, 30, tzinfo=wib).astimezone(dt.UTC))
    monday = dt.datetime(2024, 2, 12, 8, 0, tzinfo=wib).astimezone(dt.UTC)
    await plan_digests(db, cfg, monday)
    before = [r[0] for r in await db.fetchall("SELECT text FROM outbox")]
    named = {n for n in names if any(n in t for t in before)}
    assert len(named) == len(names), "the scenario does not name every family"
    await db.execute(
        "UPDATE outbox SET status = 'sent', sent_at = ?", (monday.isoformat(timespec="seconds"),)
    )
    await db.execute(
        "UPDATE recipients SET status = 'ended', status_changed_at = '2018-01-01T00:00:00+00:00'"
    )
    assert len(await run_retention(db, 5, monday + dt.timedelta(hours=1))) == len(names)
    after = "\n".join(r[0] for r in await db.fetchall("SELECT text FROM outbox"))
    left = [n for n in names if n.lower() in after.lower()]
    assert not left, f"{len(left)} of {len(names)} names remain, e.g. {left[:3]}"
    assert not [n for n in names if n.encode() in raw_bytes(db.path)]
