"""Months and dates inside explanation lines, as /skor shows them (bot.domain.timefmt)."""

from __future__ import annotations

from bot.domain.timefmt import format_periods_in
from bot.render import render


def test_months_and_dates_in_a_sentence_read_as_words() -> None:
    text = "bulan 2024-03: laba Rp1.000.000; Kunjungan 2024-11-15: nilai 3.2 dari 5"
    assert format_periods_in(text) == (
        "bulan Maret 2024: laba Rp1.000.000; Kunjungan 15 November 2024: nilai 3.2 dari 5"
    )
    assert format_periods_in("bulan 2024-03", "en") == "bulan March 2024"


def test_numbers_that_are_not_months_stay() -> None:
    for text in ("NIK 3328-0641", "Rp2.191.161 (2024)", "12024-03", "2024-13", "2024-02-31"):
        assert format_periods_in(text) == text


def test_skor_notes_name_checklist_items_and_months_in_words() -> None:
    notes = [
        {"text": "Butir penting kunjungan graduasi: jamban_air belum diketahui",
         "missing": [("jamban_air", "unknown"), ("rentenir", "not_met")]},
        {"text": "Laba usaha setara UMK 1 dari 4 bulan; bulan 2024-03: laba Rp900.000",
         "missing": None},
    ]  # fmt: skip
    text = render(
        "skor", "id", name="Siti", nik="3328064107850001", period="2024-03", score=60,
        band="menuju", gate_months=1, confidence=100, components=[], flags=[], notes=notes,
        checklist={}, pkh=None, sembako=None, desil=None, model_version="2.0+x",
        show_model=False, can_confirm=False,
    )  # fmt: skip
    assert (
        "Butir penting kunjungan graduasi belum terpenuhi: jamban & air bersih (belum diketahui),"
        " tanpa utang rentenir (belum terpenuhi)" in text
    )
    assert "bulan Maret 2024: laba Rp900.000" in text
    assert "jamban_air" not in text and "2024-03" not in text and "2.0+x" not in text
