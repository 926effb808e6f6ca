"""Whole-number counts as people write them: "5", "5 ekor", "lima", "dua puluh tiga ekor".

`parse_count(text)` answers `Count(value)` or `CountError(reason)`:

- digits, optionally grouped by thousands ("1.000", "12.500"), or Indonesian number words up
  to the thousands ("sebelas", "dua puluh tiga", "seratus lima", "seribu dua ratus");
- followed by an optional unit word ("ekor", "buah", "orang", "hari", ...);
- refused: fractions ("1.5", "2,5": reason 'fraction'), separators that are not a thousands
  grouping ("1.2.3": 'fraction'), two numbers ("3 4": 'two_numbers'), a minus ('negative'),
  anything else ('not_number').

Pure: no I/O, no telegram import.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

UNITS = frozenset(
    [
        "ekor",
        "buah",
        "biji",
        "orang",
        "jiwa",
        "hari",
        "kali",
        "potong",
        "pcs",
        "pc",
        "lembar",
        "stel",
        "setel",
        "pasang",
        "pesanan",
        "porsi",
        "bungkus",
        "kotak",
        "baju",
        "kain",
        "unit",
    ]
)
DIGIT_WORDS = {
    "nol": 0, "kosong": 0, "satu": 1, "dua": 2, "tiga": 3, "empat": 4, "lima": 5,
    "enam": 6, "tujuh": 7, "delapan": 8, "sembilan": 9,
}  # fmt: skip
_WORD = re.compile(r"[a-z]+|\d[\d.,]*|\S")


@dataclass(frozen=True)
class Count:
    value: int


@dataclass(frozen=True)
class CountError:
    """reason: 'empty' | 'fraction' | 'two_numbers' | 'negative' | 'not_number'."""

    reason: str


def _digits(token: str) -> int | CountError:
    if token.isdigit():
        return int(token)
    if token[-1] in ".," or "," in token:
        return CountError("fraction")
    parts = token.split(".")
    if 1 <= len(parts[0]) <= 3 and all(len(p) == 3 and p.isdigit() for p in parts[1:]):
        return int("".join(parts))  # "1.000" = 1000 (a thousands grouping)
    return CountError("fraction")


def words_value(tokens: list[str]) -> int | None:
    """Indonesian number words below one million ("dua puluh tiga", "seribu lima"); None if
    the words do not make one number."""
    total = 0  # thousands already closed
    current = 0  # below one thousand
    pending: int | None = None
    stage = 4  # what may still come: 3 ratus, 2 puluh/belas, 1 digit (decreasing)
    thousands_done = False
    for tok in tokens:
        if tok in DIGIT_WORDS:
            if pending is not None:
                return None
            pending = DIGIT_WORDS[tok]
        elif tok in ("ratus", "seratus"):
            value = 1 if tok == "seratus" else pending
            if value is None or (tok == "seratus" and pending is not None) or stage <= 3:
                return None
            current += value * 100
            pending, stage = None, 3
        elif tok in ("puluh", "sepuluh", "belas", "sebelas"):
            if stage <= 2:
                return None
            if tok == "sepuluh" or tok == "sebelas":
                if pending is not None:
                    return None
                current += 10 if tok == "sepuluh" else 11
            else:
                if pending is None or pending == 0:
                    return None
                current += pending * 10 if tok == "puluh" else 10 + pending
            pending, stage = None, 2
        elif tok in ("ribu", "seribu"):
            group = current + (pending or 0)
            if thousands_done or (tok == "seribu" and group) or (tok == "ribu" and not group):
                return None
            total = (group if tok == "ribu" else 1) * 1000
            current, pending, stage, thousands_done = 0, None, 4, True
        else:
            return None
    if pending is not None:
        if stage <= 1:
            return None
        current += pending
    return total + current


def parse_count(text: str) -> Count | CountError:
    """A whole count from typed text (see the module docstring)."""
    t = " ".join((text or "").strip().lower().split())
    if not t:
        return CountError("empty")
    if t[0] in "-\u2212\u2013" or t.startswith("minus"):
        return CountError("negative")
    tokens = _WORD.findall(t)
    while tokens and tokens[-1] in UNITS:
        tokens.pop()
    if not tokens:
        return CountError("not_number")
    numerals = [tok for tok in tokens if tok[0].isdigit()]
    if numerals:
        if len(tokens) > 1:
            return CountError("two_numbers" if len(numerals) > 1 else "not_number")
        digits = _digits(tokens[0])
        return digits if isinstance(digits, CountError) else Count(digits)
    value = words_value(tokens)
    return CountError("not_number") if value is None else Count(value)


_ONES = ["nol", "satu", "dua", "tiga", "empat", "lima", "enam", "tujuh", "delapan", "sembilan"]


def to_words(n: int) -> str:
    """0..999999 in Indonesian words ("dua puluh tiga", "seratus", "seribu lima")."""
    if not 0 <= n < 1_000_000:
        raise ValueError(n)
    if n == 0:
        return "nol"
    parts: list[str] = []
    thousands, rest = divmod(n, 1000)
    if thousands == 1:
        parts.append("seribu")
    elif thousands:
        parts += [_below_thousand(thousands), "ribu"]
    if rest:
        parts.append(_below_thousand(rest))
    return " ".join(parts)


def _below_thousand(n: int) -> str:
    hundreds, rest = divmod(n, 100)
    parts = []
    if hundreds == 1:
        parts.append("seratus")
    elif hundreds:
        parts += [_ONES[hundreds], "ratus"]
    tens, ones = divmod(rest, 10)
    if rest == 10:
        parts.append("sepuluh")
    elif rest == 11:
        parts.append("sebelas")
    elif tens == 1:
        parts += [_ONES[ones], "belas"]
    else:
        if tens:
            parts += [_ONES[tens], "puluh"]
        if ones:
            parts.append(_ONES[ones])
    return " ".join(parts)
