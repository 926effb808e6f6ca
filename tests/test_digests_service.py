"""/ringkasan and /ekspor use cases: who gets what, scoped, and friendly refusals."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from openpyxl import load_workbook
from PIL import Image

from bot.config import Settings
from bot.db import Database
from bot.domain.periods import period_of
from bot.services.accounts import Account
from bot.services.digests import (
    DigestDenied,
    PeriodUnavailable,
    ekspor,
    monthly,
    ringkasan,
    staff_weekly,
)
from tests.digest_db import seed

# The database-backed tests run on SQLite and on PostgreSQL (tests/pg_databases.py).
pytestmark = pytest.mark.both_engines

NOW = dt.datetime(2024, 2, 6, 1, 0, tzinfo=dt.UTC)  # Tuesday 08:00 WIB: period 2024-01 is open


def account(role: str, **kw) -> Account:
    base = dict(
        id=99, telegram_user_id=999, chat_id=999, role=role, display_name="X", recipient_id=None,
        facilitator_id=None, kecamatan_code=None, language="id", muted=False, reachable=True,
    )  # fmt: skip
    base.update(kw)
    return Account(**base)


@pytest.fixture
async def seeded(db: Database) -> Database:
    await seed(db)
    return db


def test_reporting_period(settings: Settings) -> None:
    assert period_of(NOW, settings.tz) == "2024-01"
    # 31 Jan 2024 18:00 UTC is already 1 February in Jakarta
    assert period_of(dt.datetime(2024, 1, 31, 18, tzinfo=dt.UTC), settings.tz) == "2024-01"
    assert period_of(dt.datetime(2024, 1, 15, tzinfo=dt.UTC), settings.tz) == "2023-12"


async def test_ringkasan_admin_sees_the_kabupaten(seeded: Database, settings: Settings) -> None:
    text = await ringkasan(seeded, account("admin"), NOW, settings)
    assert "Ringkasan mingguan · Kabupaten Tegal" in text
    assert "Sudah lapor: 2 dari 4 (50%)" in text
    assert "Tanda risiko baru: 1 (semua terbuka: 1)" in text
    # Rina blocked the bot; Wati and Sri have no account; Siti reported
    assert "Tidak bisa dihubungi (blokir/keluar): 1" in text
    assert "Belum terhubung ke bot: 2" in text and "Terhubung, belum lapor: 0" in text
    assert "terlampir" not in text  # the text alone: no file


async def test_ringkasan_staff_scoped_to_slawi(seeded: Database, settings: Settings) -> None:
    text = await ringkasan(seeded, account("staff", kecamatan_code="33.28.10"), NOW, settings)
    assert "Ringkasan mingguan · Kec. Slawi" in text
    assert "Sudah lapor: 0 dari 1 (0%)" in text
    assert "Belum ada laporan yang masuk untuk Januari 2024." in text
    assert "Lebaksiu" not in text and "Pangkah" not in text


async def test_ringkasan_facilitator_gets_caseload(seeded: Database, settings: Settings) -> None:
    text = await ringkasan(seeded, account("facilitator", facilitator_id=2), NOW, settings)
    assert "Laporan Januari 2024: 1 dari 2 keluarga sudah lapor." in text
    assert "- Wati" in text and "Wati: minta bantuan" in text
    assert "Siti" not in text and "Rina" not in text  # Ani's families
    with pytest.raises(DigestDenied, match="chat pribadi"):  # names stay out of groups
        await ringkasan(seeded, account("facilitator", facilitator_id=2), NOW, settings,
                        private_chat=False)  # fmt: skip


async def test_ringkasan_refuses_recipients(seeded: Database, settings: Settings) -> None:
    with pytest.raises(DigestDenied) as exc:
        await ringkasan(seeded, account("recipient", recipient_id=1), NOW, settings)
    assert "hanya untuk staf" in exc.value.text
    with pytest.raises(DigestDenied):
        await ringkasan(seeded, None, NOW, settings)


async def test_ekspor_staff_private_chat(seeded: Database, settings: Settings, tmp_path: Path):
    staff = account("staff", kecamatan_code="33.28.06")
    result = await ekspor(seeded, staff, None, NOW, settings, tmp_path, private_chat=True)
    assert result.period == "2024-01" and result.region == "Kec. Lebaksiu"
    path = result.path
    assert path.name == "pendamping-2024-01-33.28.06-ekspor.xlsx"
    rows = list(load_workbook(path, read_only=True)["penerima"].iter_rows(values_only=True))
    assert [r[2] for r in rows[1:]] == ["Rina", "Siti"]  # Lebaksiu only
    assert all(r[1].startswith("3328****") for r in rows[1:])  # NIK masked in chat files


async def test_ekspor_refusals(seeded: Database, settings: Settings, tmp_path: Path) -> None:
    staff = account("staff")
    out = tmp_path / "out"
    with pytest.raises(DigestDenied, match="chat pribadi"):
        await ekspor(seeded, staff, "2024-01", NOW, settings, out, private_chat=False)
    with pytest.raises(DigestDenied, match="hanya untuk staf"):
        await ekspor(seeded, account("facilitator", facilitator_id=1), "2024-01", NOW, settings,
                     out, private_chat=True)  # fmt: skip
    with pytest.raises(PeriodUnavailable, match="Periode Mei 2023 tidak ada"):
        await ekspor(seeded, staff, "2023-05", NOW, settings, out, private_chat=True)
    with pytest.raises(PeriodUnavailable, match="bukan periode"):
        await ekspor(seeded, staff, "Januari", NOW, settings, out, private_chat=True)
    with pytest.raises(PeriodUnavailable, match="belum dimulai"):
        await ekspor(seeded, staff, "2024-04", NOW, settings, out, private_chat=True)
    assert not out.exists()  # nothing written for a refusal


async def test_monthly_bundle(seeded: Database, settings: Settings, tmp_path: Path) -> None:
    bundle = await monthly(seeded, "2024-01", NOW, settings, None, tmp_path)
    assert "Laporan bulanan Januari 2024 · Kabupaten Tegal" in bundle.text
    # the recipient's own report counts over the facilitator's (one read model)
    assert "- tata boga: Rp500.000 (bulan lalu Rp400.000)" in bundle.text
    # no scores table yet: no band chart, and the text says charts (2)
    assert sorted(p.name for p in bundle.charts) == [
        "2024-01-laba-program.png", "2024-01-respons-kecamatan.png",
    ]  # fmt: skip
    assert "Grafik (2)" in bundle.text
    for p in bundle.charts:
        assert Image.open(p).size == (1080, 1080)
    assert bundle.export is not None and bundle.export.exists()


async def test_monthly_region_without_reports(seeded: Database, settings: Settings, tmp_path):
    bundle = await monthly(seeded, "2024-01", NOW, settings, "33.28.10", tmp_path)
    assert "Belum ada laporan yang masuk" in bundle.text
    # Slawi: one silent recipient, no report: no chart at all (a 0 % bar tells nothing)
    assert bundle.charts == []
    assert "Grafik" not in bundle.text


async def test_staff_weekly_for_a_kecamatan_chat(seeded: Database, settings: Settings) -> None:
    text = await staff_weekly(seeded, NOW, settings, "33.28.06")
    assert "Ringkasan mingguan · Kec. Lebaksiu" in text
    assert "Sudah lapor: 1 dari 2 (50%)" in text and "Sedang mengisi: 1" in text
    assert "Tidak bisa dihubungi (blokir/keluar): 1" in text
    assert "terlampir" not in text  # the scheduled weekly digest carries no file
