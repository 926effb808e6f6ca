"""Digest texts: short enough for one phone screen, and a period without reports says so."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.domain.digest import facilitator_digest, monthly_report, staff_digest
from bot.render import render
from tests.digest_fixtures import ANI, BUDI, LEB, PERIOD, SINCE, SNAPSHOTS, snap

NOW = "5 Februari 2024 08:00 WIB"


def test_staff_digest_text_has_the_hand_counted_numbers() -> None:
    text = render("digest_staff", "id", d=staff_digest(SNAPSHOTS, PERIOD, SINCE),
                  scope="Kabupaten Tegal", now=NOW)  # fmt: skip
    assert "Laporan Januari 2024" in text
    assert "Sudah lapor: 5 dari 10 (50%)" in text
    assert "Sedang mengisi: 2" in text
    assert "Belum lapor: 3" in text
    assert "Tanda risiko baru: 3 (semua terbuka: 4)" in text
    assert "Usulan graduasi, menunggu keputusan: 1" in text  # 1 proposed
    assert "Siap graduasi, menunggu kunjungan: 1" in text  # 6 waits for Budi's visit
    assert "Belum terhubung ke bot: 2" in text  # 7, 9
    assert "Tidak bisa dihubungi (blokir/keluar): 2" in text  # 4, 8
    assert "Terhubung, belum lapor: 1" in text  # 3
    assert "Belum ada laporan" not in text


@pytest.mark.parametrize("lang", ["id", "en"])
def test_attached_is_said_only_when_a_file_is_attached(lang: str) -> None:
    word = {"id": "terlampir", "en": "attached"}[lang]
    d = staff_digest(SNAPSHOTS, PERIOD, SINCE)
    without = render("digest_staff", lang, d=d, scope="X", now=NOW)
    assert word not in without
    with_file = render("digest_staff", lang, d=d, scope="X", now=NOW, attached=True)
    assert word in with_file


@pytest.mark.parametrize("lang", ["id", "en"])
def test_staff_digest_fits_one_phone_screen(lang: str) -> None:
    # 18 kecamatan and 40 facilitators still give a short message: only the lowest 3 of each
    many = [
        replace(
            snap(i, LEB, ANI, "menjahit", "reported" if i % 3 else "silent"),
            kecamatan=f"Kecamatan {i % 18:02d}",
            facilitator_id=i % 40,
            facilitator=f"Pendamping {i % 40:02d}",
        )
        for i in range(1, 400)
    ]
    text = render("digest_staff", lang, d=staff_digest(many, PERIOD, SINCE), scope="X", now=NOW,
                  attached=True)  # fmt: skip
    lines = text.splitlines()
    assert len(lines) <= 26
    assert max(len(line) for line in lines) <= 60


@pytest.mark.parametrize("lang", ["id", "en"])
def test_period_without_reports_says_so(lang: str) -> None:
    rows = [snap(1, LEB, ANI, "menjahit", "silent"), snap(2, LEB, ANI, "menjahit", "draft")]
    expected = {"id": "Belum ada laporan yang masuk untuk", "en": "No reports have come in"}[lang]
    staff = render("digest_staff", lang, d=staff_digest(rows, PERIOD, SINCE), scope="X", now=NOW)
    monthly = render("digest_monthly", lang, r=monthly_report(rows, PERIOD, SINCE),
                     scope="X", charts=0)  # fmt: skip
    fac = render("digest_facilitator", lang, d=facilitator_digest(rows, PERIOD, ANI), limit=10)
    for text in (staff, monthly, fac):
        assert expected in text, text


def test_region_without_recipients_says_so() -> None:
    text = render("digest_staff", "id", d=staff_digest([], PERIOD, SINCE), scope="Margasari",
                  now=NOW)  # fmt: skip
    assert "Tidak ada penerima yang wajib melapor" in text


def test_facilitator_digest_lists_names_with_a_limit() -> None:
    text = render("digest_facilitator", "id", d=facilitator_digest(SNAPSHOTS, PERIOD, BUDI),
                  limit=1)  # fmt: skip
    assert "Belum lapor (2):" in text
    assert "- Penerima 04 (Desa Lebaksiu)" in text
    assert "- dan 1 lainnya" in text
    assert "- Penerima 04: angka melonjak" in text
    assert "Siap graduasi, mohon dikunjungi (1):" in text


def test_monthly_text_shows_medians_in_rupiah() -> None:
    r = monthly_report(SNAPSHOTS, PERIOD, SINCE, programmes=("tata boga", "menjahit"))
    text = render("digest_monthly", "id", r=r, scope="Kabupaten Tegal", charts=3)
    assert "- tata boga: Rp800.000 (bulan lalu Rp700.000)" in text
    assert "- menjahit: belum ada (bulan lalu Rp500.000)" in text
    assert "- Siap graduasi: 2" in text
    assert "Usulan graduasi, menunggu keputusan: 1" in text
    assert "Siap graduasi, menunggu kunjungan: 1" in text
    assert "Belum terhubung ke bot: 2" in text
