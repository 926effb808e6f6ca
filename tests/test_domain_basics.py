"""Pure domain helpers of the foundation: rupiah, NIK masking, Indonesian dates."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from bot.domain.money import format_rupiah
from bot.domain.nik import mask_nik
from bot.domain.timefmt import format_date, format_period


def test_format_rupiah() -> None:
    assert format_rupiah(1_500_000) == "Rp1.500.000"
    assert format_rupiah(0) == "Rp0"
    assert format_rupiah(999) == "Rp999"
    assert format_rupiah(-5000) == "-Rp5.000"
    assert format_rupiah(None) == "-"


@given(st.text(alphabet="0123456789", min_size=16, max_size=16))
def test_mask_nik_keeps_only_ends(nik: str) -> None:
    masked = mask_nik(nik)
    assert masked[:4] == nik[:4] and masked[-4:] == nik[-4:]
    assert masked[4:12] == "********"


def test_dates() -> None:
    assert format_date(dt.date(2023, 11, 22)) == "22 November 2023"
    assert format_date("2024-02-01T01:00:00+00:00", "en") == "1 February 2024"
    assert format_period("2024-08") == "Agustus 2024"


def test_babel_month_names_match_the_former_tables() -> None:
    """The CLDR names (Babel) are the ones the texts always used, in both languages."""
    from bot.domain.timefmt import month_names

    assert month_names("id") == ["Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli",
                         "Agustus", "September", "Oktober", "November", "Desember"]  # fmt: skip
    assert month_names("en")[0] == "January" and month_names("en")[11] == "December"
    assert format_date(dt.datetime(2024, 4, 22, 10, 0)) == "22 April 2024"
    assert format_period("2024-12", "en") == "December 2024"
    assert format_date(None) == "-"


@given(st.integers(-(10**12), 10**12))
def test_number_grouping_is_indonesian(n: int) -> None:
    from bot.domain.money import format_number

    assert format_number(n) == f"{n:,}".replace(",", ".")
    assert format_number(n, "en") == f"{n:,}"
