"""Jinja2 environment for every user-facing text (templates/<lang>/*.j2)."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import Any

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined

from bot.domain.money import format_rupiah, format_signed
from bot.domain.nik import mask_nik
from bot.domain.timefmt import format_date, format_period, format_periods_in
from bot.paths import templates_dir

DEFAULT_LANGUAGE = "id"
LANGUAGES = ("id", "en")


@lru_cache(maxsize=len(LANGUAGES))
def environment(lang: str = DEFAULT_LANGUAGE) -> Environment:
    """One environment per language; a template missing in 'en' falls back to 'id'."""
    if lang not in LANGUAGES:
        lang = DEFAULT_LANGUAGE
    base = templates_dir()
    loaders = [FileSystemLoader(base / lang)]
    if lang != DEFAULT_LANGUAGE:
        loaders.append(FileSystemLoader(base / DEFAULT_LANGUAGE))
    env = Environment(
        loader=ChoiceLoader(loaders),
        undefined=StrictUndefined,
        autoescape=False,  # plain-text chat messages, sent without parse_mode
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters["rupiah"] = format_rupiah
    env.filters["mask_nik"] = mask_nik
    env.filters["titik"] = end_sentence
    # A profit as people say it: "rugi Rp150.000" for a loss (English: "loss Rp150.000").
    env.filters["laba"] = lambda value: format_signed(value, "rugi" if lang == "id" else "loss")
    env.filters["tanggal"] = lambda value: format_date(value, lang)
    env.filters["periode"] = lambda value: format_period(value, lang)
    # ISO months and dates inside a sentence (the score's explanation lines)
    env.filters["periode_teks"] = lambda value: format_periods_in(str(value), lang)
    env.globals["lang"] = lang
    return env


def end_sentence(text: object) -> str:
    """A name at the end of a sentence gets its period once: "Siti." but "Bu Ani, S.H." """
    value = str(text or "").rstrip()
    return value if value.endswith((".", "!", "?")) else f"{value}."


def render(name: str, lang: str = DEFAULT_LANGUAGE, /, **context: Any) -> str:
    """Render templates/<lang>/<name>.j2 and strip surrounding blank space."""
    return environment(lang).get_template(f"{name}.j2").render(**context).strip()


def template_names(lang: str = DEFAULT_LANGUAGE) -> list[str]:
    """Every template name (without .j2) available in a language's folder."""
    folder = templates_dir() / lang
    return sorted(p.stem for p in folder.glob("*.j2"))


def now_label(now: dt.datetime, tz: dt.tzinfo) -> str:
    """A WIB time label for messages: '28 November 2026 08:00 WIB'."""
    local = now.astimezone(tz)
    return f"{format_date(local)} {local:%H:%M} WIB"
