"""Indonesian (and English) dates and month names from the CLDR data that Babel ships.

No I/O while formatting: the two locales' data is loaded once, when this module is imported
(computing the month names below reads it); bot/domain/money.py formats numbers with them.
"""

from __future__ import annotations

import datetime as dt

from babel import Locale
from babel.dates import format_date as _cldr_date

_LOCALES = {"id": Locale.parse("id"), "en": Locale.parse("en")}


def locale_for(lang: str) -> Locale:
    """English for 'en', Indonesian for anything else (the bot's default)."""
    return _LOCALES["en"] if lang == "en" else _LOCALES["id"]


def month_names(lang: str = "id") -> list[str]:
    """The twelve month names, January first: 'Januari' ... 'Desember'."""
    wide = locale_for(lang).months["format"]["wide"]
    return [wide[m] for m in range(1, 13)]


MONTHS_ID = month_names("id")
MONTHS_EN = month_names("en")


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
