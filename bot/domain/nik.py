"""NIK (Nomor Induk Kependudukan): 16 digits = province(2) kabupaten(2) kecamatan(2)
DDMMYY (day + 40 for women) sequence(4)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

NIK_LENGTH = 16


class NikError(ValueError):
    """Why a NIK is not valid, in words a clerk understands (Indonesian)."""


@dataclass(frozen=True)
class NikInfo:
    nik: str
    female: bool
    birth_day: int
    birth_month: int
    birth_year_2digit: int


def clean_nik(raw: str) -> str:
    """Strip what spreadsheets add around a NIK: apostrophes, spaces, NBSP, dashes, dots."""
    text = str(raw).strip().lstrip("'\u2018\u2019`")
    for ch in (" ", "\u00a0", "\u202f", "\t", "-", "."):
        text = text.replace(ch, "")
    return text


def parse_nik(raw: str) -> NikInfo:
    """Validate a cleaned or raw NIK; raise NikError with a reason."""
    nik = clean_nik(raw)
    if not nik:
        raise NikError("NIK kosong")
    if not nik.isdigit() or not nik.isascii():
        raise NikError("NIK hanya boleh berisi angka")
    if len(nik) != NIK_LENGTH:
        raise NikError(f"NIK harus 16 angka, ini {len(nik)} angka")
    day = int(nik[6:8])
    month = int(nik[8:10])
    year2 = int(nik[10:12])
    female = day > 40
    if female:
        day -= 40
    if not 1 <= month <= 12:
        raise NikError(f"bagian tanggal lahir di NIK tidak sah (bulan {month:02d})")
    try:
        # Year 2000 is a leap year, so 29-02 is accepted for any two-digit year here;
        # the full year is unknown from the NIK alone.
        dt.date(2000 if year2 % 4 == 0 else 2001, month, day)
    except ValueError:
        raise NikError(f"bagian tanggal lahir di NIK tidak sah ({day:02d}-{month:02d})") from None
    if nik[12:16] == "0000":
        raise NikError("nomor urut di NIK tidak boleh 0000")
    return NikInfo(nik, female, day, month, year2)


def mask_nik(nik: str | None) -> str:
    """3328********0001: the first 4 and last 4 digits only, for every chat message and file."""
    if not nik:
        return "-"
    text = str(nik)
    if len(text) <= 8:
        return "*" * len(text)
    return text[:4] + "*" * (len(text) - 8) + text[-4:]


NUMBER_CELL_HINT = (
    "NIK tersimpan sebagai angka, Excel sudah membuang angka terakhirnya; "
    "format kolom NIK sebagai Teks lalu ketik ulang NIK-nya"
)


def parse_nik_cell(value: object) -> str:
    """A NIK from a spreadsheet cell: text only. A number cell is always refused, because
    Excel keeps only 15 significant digits and a 16-digit NIK has lost its last digit."""
    if value is None:
        raise NikError("NIK kosong")
    if isinstance(value, bool):
        raise NikError("NIK hanya boleh berisi angka")
    if isinstance(value, int | float):
        raise NikError(NUMBER_CELL_HINT)
    text = str(value)
    # "3.32802E+15" typed or pasted as text is the same loss in another shape.
    if "e+" in text.lower():
        raise NikError(NUMBER_CELL_HINT)
    return parse_nik(text).nik
