"""Indonesian date formatting (no I/O)."""

from __future__ import annotations

import datetime as dt

MONTHS_ID = [
    "Januari", "Februari", "Maret", "April", "Mei", "Juni",
    "Juli", "Agustus", "September", "Oktober", "November", "Desember",
]  # fmt: skip
MONTHS_EN = [
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
]  # fmt: skip


def format_date(value: dt.date | dt.datetime | str | None, lang: str = "id") -> str:
    """date -> '22 November 2023' (English month names when lang='en')."""
    if value is None:
        return "-"
    if isinstance(value, str):
        value = dt.date.fromisoformat(value[:10])
    months = MONTHS_EN if lang == "en" else MONTHS_ID
    return f"{value.day} {months[value.month - 1]} {value.year}"


def format_period(period: str, lang: str = "id") -> str:
    """'2024-01' -> 'Januari 2024'."""
    year, month = period.split("-")
    months = MONTHS_EN if lang == "en" else MONTHS_ID
    return f"{months[int(month) - 1]} {year}"
