"""/ringkasan and /ekspor through the sandbox and the real bot."""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import replace
from pathlib import Path

import pytest
from openpyxl import load_workbook

from bot.db import Database
from tests.conftest import FakeClock
from tests.digest_db import NIKS, T, seed

# The database-backed tests run on SQLite and on PostgreSQL (tests/pg_databases.py).
pytestmark = pytest.mark.both_engines

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

NOW = dt.datetime(2024, 2, 6, 1, 0, tzinfo=dt.UTC)  # 08:00 WIB: period January 2024 is open
ADMIN, STAFF_SLAWI, BUDI, SITI = 2001, 2002, 104, 101


async def seed_people(db: Database) -> None:
    await seed(db)
    async with db.transaction() as c:
        await c.execute(
            "INSERT INTO accounts (telegram_user_id, chat_id, display_name, role, linked_at)"
            " VALUES (?, ?, 'Admin', 'admin', ?)", (ADMIN, ADMIN, T))  # fmt: skip
        await c.execute(
            "INSERT INTO accounts (telegram_user_id, chat_id, display_name, role,"
            " kecamatan_code, linked_at) VALUES (?, ?, 'Staf Slawi', 'staff', '33.28.10', ?)",
            (STAFF_SLAWI, STAFF_SLAWI, T),
        )
        await c.execute(
            "INSERT INTO accounts (telegram_user_id, chat_id, display_name, role,"
            " facilitator_id, linked_at) VALUES (?, ?, 'Budi', 'facilitator', 2, ?)",
            (BUDI, BUDI, T),
        )


@pytest.fixture
async def sb(sandbox_factory, settings):
    # -100500 is a configured staff group: the chat gate lets the group commands through
    cfg = replace(settings, chats=replace(settings.chats, staff=[-100500]))
    return await sandbox_factory(settings=cfg, clock=FakeClock(NOW), seed=seed_people)


async def test_ringkasan_for_admin_staff_facilitator_and_recipient(sb) -> None:
    admin = await sb.user(ADMIN, "Admin")
    text = (await admin.send("/ringkasan"))[0].text
    assert "Ringkasan mingguan · Kabupaten Tegal" in text
    assert "Sudah lapor: 2 dari 4 (50%)" in text

    staff = await sb.user(STAFF_SLAWI, "Staf")
    text = (await staff.send("/ringkasan"))[0].text
    assert "Kec. Slawi" in text and "Sudah lapor: 0 dari 1 (0%)" in text
    assert "Belum ada laporan yang masuk untuk Januari 2024." in text

    budi = await sb.user(BUDI, "Budi")
    text = (await budi.send("/ringkasan"))[0].text
    assert "1 dari 2 keluarga sudah lapor" in text and "Wati: minta bantuan" in text

    siti = await sb.user(SITI, "Siti")
    assert "hanya untuk staf" in (await siti.send("/ringkasan"))[0].text


async def test_ringkasan_carries_its_file(sb) -> None:
    staff = await sb.user(STAFF_SLAWI, "Staf")
    replies = await staff.send("/ringkasan")
    assert len(replies) == 2
    assert "Rincian lengkap ada di berkas terlampir." in replies[0].text
    doc = replies[1].document
    assert doc is not None and doc["file_name"] == "pendamping-2024-01-33.28.10-ekspor.xlsx"
    wb = load_workbook(io.BytesIO(sb.core.files[doc["file_id"]].data), read_only=True)
    rows = list(wb["penerima"].iter_rows(min_row=2, values_only=True))
    assert sorted(r[2] for r in rows) == ["Dewi", "Wati", "Yuni"]  # Slawi only: her region
    # in a group: no file, so the text does not say one is attached
    group = await sb.group(-100501, "Staf Dinsos", [staff])
    replies = await group.send(staff, "/ringkasan")
    assert len(replies) == 1 and replies[0].document is None
    assert "terlampir" not in replies[0].text
    # a facilitator's /ringkasan has no file and says none
    budi = await sb.user(BUDI, "Budi")
    replies = await budi.send("/ringkasan")
    assert len(replies) == 1 and "terlampir" not in replies[0].text
    assert len(sb.calls("sendDocument")) == 1


async def test_ekspor_sends_a_masked_workbook_in_private(sb, monkeypatch) -> None:
    # the workbook is written beside the database, never in the system's temporary folder
    # (a killed bot would leave names there): note where the file was when it was sent
    from handlers import digests as digest_handlers

    sent_from: list[Path] = []
    send_file = digest_handlers._send_file

    async def noting(update, file, lang):
        sent_from.append(file.path)
        await send_file(update, file, lang)

    monkeypatch.setattr(digest_handlers, "_send_file", noting)
    staff = await sb.user(STAFF_SLAWI, "Staf")
    replies = await staff.send("/ekspor 2024-01")
    scratch = Path(sb.settings.database).resolve().parent / "digests"
    assert len(sent_from) == 1 and sent_from[0].parent.parent == scratch
    assert list(scratch.iterdir()) == []  # the scratch folder went after sending
    assert len(replies) == 1 and replies[0].document is not None
    doc = replies[0].document
    assert doc["file_name"] == "pendamping-2024-01-33.28.10-ekspor.xlsx"
    assert "Kec. Slawi, periode Januari 2024. NIK disamarkan." in replies[0].caption
    data = sb.core.files[doc["file_id"]].data
    wb = load_workbook(io.BytesIO(data), read_only=True)
    assert wb.sheetnames == ["penerima", "laporan", "kunjungan", "tanda", "keterangan"]
    rows = list(wb["penerima"].iter_rows(min_row=2, values_only=True))
    assert sorted(r[2] for r in rows) == ["Dewi", "Wati", "Yuni"]  # Slawi only
    assert all(r[1] == NIKS[r[0]][:4] + "********" + NIKS[r[0]][-4:] for r in rows)
    assert sb.calls("sendDocument")[0]["status"] == 200


async def test_ekspor_refusals(sb) -> None:
    staff = await sb.user(STAFF_SLAWI, "Staf")
    assert "Periode Mei 2023 tidak ada" in (await staff.send("/ekspor 2023-05"))[0].text
    assert "bukan periode" in (await staff.send("/ekspor kemarin"))[0].text
    budi = await sb.user(BUDI, "Budi")
    assert "hanya untuk staf Dinas Sosial dan admin" in (await budi.send("/ekspor"))[0].text
    group = await sb.group(-100500, "Staf Dinsos", [staff, budi])
    replies = await group.send(staff, "/ekspor 2024-01")
    assert "chat pribadi" in replies[0].text and replies[0].document is None
    replies = await group.send(budi, "/ringkasan")
    assert "chat pribadi" in replies[0].text  # family names stay out of groups
    assert sb.calls("sendDocument") == []


async def test_bantuan_lists_the_digest_commands_by_role(sb) -> None:
    staff = await sb.user(STAFF_SLAWI, "Staf")
    text = (await staff.send("/bantuan"))[0].text
    assert "/ringkasan" in text and "/ekspor" in text
    siti = await sb.user(SITI, "Siti")
    text = (await siti.send("/bantuan"))[0].text
    assert "/ringkasan" not in text and "/ekspor" not in text


async def test_ringkasan_reach_counts_match_a_recount(sb) -> None:
    import re

    admin = await sb.user(ADMIN, "Admin")
    text = (await admin.send("/ringkasan"))[0].text

    def shown(label: str) -> int:
        return int(re.search(rf"^{re.escape(label)}: (\d+)", text, re.M).group(1))

    expected = (
        "SELECT rc.id FROM recipients rc WHERE rc.status = 'active'"
        " AND COALESCE(rc.handover_date, substr(rc.created_at, 1, 10)) <= '2024-01-31'"
    )
    db = sb.db
    unlinked = await db.fetchval(
        f"SELECT count(*) FROM ({expected}) e WHERE NOT EXISTS"
        " (SELECT 1 FROM accounts a WHERE a.recipient_id = e.id)"
    )
    unreachable = await db.fetchval(
        f"SELECT count(*) FROM ({expected}) e WHERE EXISTS"
        " (SELECT 1 FROM accounts a WHERE a.recipient_id = e.id AND a.reachable = 0)"
    )
    silent = await db.fetchval(
        f"SELECT count(*) FROM ({expected}) e WHERE EXISTS"
        " (SELECT 1 FROM accounts a WHERE a.recipient_id = e.id AND a.reachable = 1)"
        " AND e.id NOT IN (SELECT recipient_id FROM reports WHERE period = '2024-01')"
    )
    # Wati and Sri have no account, Rina blocked the bot, Siti reported
    assert (unlinked, unreachable, silent) == (2, 1, 0)
    assert shown("Belum terhubung ke bot") == unlinked
    assert shown("Tidak bisa dihubungi (blokir/keluar)") == unreachable
    assert shown("Terhubung, belum lapor") == silent
