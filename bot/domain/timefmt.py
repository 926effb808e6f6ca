"""Indonesian (and English) dates and month names from the CLDR data that Babel ships.

Babel reads a locale's CLDR data (package data, like a module) on its first use and keeps it;
nothing else is read. bot/domain/money.py formats numbers with the same locales.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import cache

from babel import Locale
from babel.dates import format_date as _cldr_date


def locale_for(lang: str) -> Locale:
    """English for 'en', Indonesian for anything else (the bot's default)."""
    return _locale("en" if lang == "en" else "id")


@cache
def _locale(code: str) -> Locale:
    return Locale.parse(code)


@cache
def _months(code: str) -> tuple[str, ...]:
    wide = _locale(code).months["format"]["wide"]
    return tuple(wide[m] for m in range(1, 13))


def month_names(lang: str = "id") -> list[str]:
    """The twelve month names, January first: 'Januari' ... 'Desember'."""
    return list(_months("en" if lang == "en" else "id"))


def format_date(value: dt.date | dt.datetime | str | None, lang: str = "id") -> str:
    """date -> '22 November 2023' (English month names when lang='en')."""
    if value is None:
        return "-"
    if isinstance(value, str):
        value = dt.date.fromisoformat(value[:10])
    if isinstance(value, dt.datetime):
        value = value.date()
    return _cldr_date(value, "d MMMM y", locale=locale_for(lang))


def format_period(period: str, lang: str = "id") -> str:
    """'2024-01' -> 'Januari 2024'."""
    year, month = period.split("-")
    return _cldr_date(dt.date(int(year), int(month), 1), "MMMM y", locale=locale_for(lang))


# 'YYYY-MM' or 'YYYY-MM-DD' standing alone in a sentence (not inside a longer number)
_PERIOD_OR_DATE = re.compile(r"(?<![\d-])(\d{4})-(0[1-9]|1[0-2])(?:-(\d{2}))?(?![\d-])")


def format_periods_in(text: str, lang: str = "id") -> str:
    """Months and dates inside a sentence as people read them: 'bulan 2024-03:' ->
    'bulan Maret 2024:', 'Kunjungan 2024-11-15' -> 'Kunjungan 15 November 2024'.

    For explanation lines that the score model writes with ISO months (they are stored that
    way); the chat shows them like every other month."""

    def say(m: re.Match[str]) -> str:
        if m.group(3):
            try:
                return format_date(dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3))), lang)
            except ValueError:  # not a real day: leave the text as it is
                return m.group(0)
        return format_period(f"{m.group(1)}-{m.group(2)}", lang)

    return _PERIOD_OR_DATE.sub(say, text)
