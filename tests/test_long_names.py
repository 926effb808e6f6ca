"""Names are capped at import (with a reason in the rejects), and no view sends a message
over Telegram's 4096 characters, even for names stored before the cap."""

from __future__ import annotations

import openpyxl
import pytest

from bot.domain.cells import MAX_NAME
from bot.services.registry_import import import_registry
from bot.services.registry_source import open_source
from tests.hostile_helpers import ErrorCapture, generic_errors_sent
from tests.report_seed import add_account, seed_basic

# The database-backed tests run on SQLite and on PostgreSQL (tests/pg_databases.py).
pytestmark = pytest.mark.both_engines

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

LONG = "Sri " + "Wahyuningsih" * 420  # 5,044 characters


async def test_a_name_over_the_cap_is_rejected_at_import_with_a_reason(db, clock, tmp_path):
    path = tmp_path / "penerima.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "penerima"
    ws.append(["NIK", "Nama Penerima", "Kecamatan", "Jenis Pelatihan", "Desa"])
    ws.append(["3328064211650004", LONG, "Lebaksiu", "Menjahit", "Kajen"])
    ws.append(["3328064211650005", "N" * MAX_NAME, "Lebaksiu", "Menjahit", "Kajen"])
    wb.save(path)
    source = open_source(path)
    try:
        result = await import_registry(db, source, clock(), ["tata boga", "menjahit"])
    finally:
        source.close()
    sheet = result.sheets[0]
    assert sheet.added == 1 and [r.row for r in sheet.rejects] == [2]
    assert "terlalu panjang" in sheet.rejects[0].reason and str(MAX_NAME) in sheet.rejects[0].reason
    assert await db.fetchval("SELECT length(name) FROM recipients") == MAX_NAME


async def seed_long(db):
    ids = await seed_basic(db)
    await add_account(db, 3001, "staff", name="Staf")
    # names stored before the cap existed: every one of the facilitator's families
    for n, rid in enumerate(ids["recipients"]):
        await db.execute("UPDATE recipients SET name = ? WHERE id = ?", (f"{n}{LONG}", rid))
        await db.execute(
            "INSERT INTO graduation_cases (recipient_id, kind, status, score, period, statement,"
            " confirmed_at, created_at) VALUES (?, 'graduation', 'confirmed', 80, '2024-01',"
            " 'stabil', '2024-01-15T00:00:00+00:00', '2024-01-15T00:00:00+00:00')",
            (rid,),
        )
    await db.execute("UPDATE accounts SET telegram_user_id = -id, chat_id = -id"
                     " WHERE role = 'recipient' AND telegram_user_id = 1002")  # fmt: skip


async def test_every_view_fits_telegram_with_very_long_names(sandbox_factory):
    sb = await sandbox_factory(seed=seed_long)
    rini, siti, staff = [await sb.user(u, f"U{u}") for u in (2001, 1001, 3001)]
    nik = await sb.db.fetchval("SELECT nik FROM recipients ORDER BY id LIMIT 1")
    with ErrorCapture() as errors:
        for person, command in ((rini, "/daftar"), (rini, f"/skor {nik}"), (rini, "/undang"),
                                (rini, "/lapor"), (rini, "/kunjungan"), (rini, "/profil"),
                                (siti, "/profil"), (siti, "/kemajuan"), (siti, "/lapor"),
                                (staff, "/graduasi"), (staff, f"/skor {nik}"),
                                (staff, "/ringkasan")):  # fmt: skip
            replies = await person.send(command)
            assert replies, command
            for r in replies:
                assert len(r.body.encode("utf-16-le")) // 2 <= 4096, command
                for label in r.labels:
                    assert len(label) <= 64, command
        assert not errors.records, errors.describe()
    assert not generic_errors_sent(sb.core)
    assert not [c for c in sb.calls("sendMessage") if c["status"] != 200]
