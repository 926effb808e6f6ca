"""Rupiah amounts as whole integers: parsing how Indonesians write them, and display.

`parse_amount` understands what people type in chat:
"Rp 1.500.000", "Rp1.500.000,-", "1,5 jt", "1.5jt", "1,5 juta", "750rb", "750 ribu",
"50k", "sejuta", "satu juta lima ratus ribu", "setengah juta", "1 juta 250 ribu", plain
digits "1500000", Javanese "rebu"/"ewu". It answers one of three results:

- `Amount(value)`: a whole, non-negative number of rupiah at or below the ceiling;
- `AmbiguousAmount(text, choices)`: "1,5" without a unit: Rp1.500.000 or Rp1.500? (ask);
- `AmountError(reason, example)`: why not, plus an example of what to type.

Pure: no I/O, no telegram import.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from babel.numbers import format_decimal

from bot.domain.timefmt import locale_for

DEFAULT_CEILING = 100_000_000  # Rp100 juta: far above any monthly figure of these households
EXAMPLE = "1.500.000 atau 1,5 juta atau 750 ribu"


def format_number(value: int, lang: str = "id") -> str:
    """1500000 -> '1.500.000' (Indonesian grouping; '1,500,000' for lang='en')."""
    return format_decimal(value, locale=locale_for(lang))


def format_rupiah(amount: int | None) -> str:
    """1500000 -> 'Rp1.500.000'; negative amounts keep their sign ('-Rp5.000')."""
    if amount is None:
        return "-"
    sign = "-" if amount < 0 else ""
    return f"{sign}Rp{format_number(abs(int(amount)))}"


@dataclass(frozen=True)
class Amount:
    value: int


@dataclass(frozen=True)
class AmbiguousAmount:
    """A number like '1,5' with no unit: ask which one was meant (choices, largest first)."""

    text: str
    choices: tuple[int, ...]


@dataclass(frozen=True)
class AmountError:
    """reason: 'empty' | 'negative' | 'letters' | 'nonsense' | 'too_large' | 'fraction'."""

    reason: str
    example: str = EXAMPLE
    ceiling: int | None = None


ParseResult = Amount | AmbiguousAmount | AmountError

# Word -> value for the digit words; 'se' forms are whole words of their own.
_DIGITS = {
    "nol": 0, "kosong": 0, "satu": 1, "dua": 2, "tiga": 3, "empat": 4, "lima": 5,
    "enam": 6, "tujuh": 7, "delapan": 8, "sembilan": 9,
}  # fmt: skip
_SCALES = {
    "ribu": 1_000, "rb": 1_000, "rbu": 1_000, "rebu": 1_000, "ewu": 1_000, "k": 1_000,
    "juta": 1_000_000, "jt": 1_000_000, "jta": 1_000_000, "jeti": 1_000_000,
    "miliar": 1_000_000_000, "milyar": 1_000_000_000, "m": 1_000_000_000,
}  # fmt: skip
_SE_SCALES = {"seribu": 1_000, "sejuta": 1_000_000, "semiliar": 1_000_000_000}
_KNOWN_WORDS = (
    set(_DIGITS) | set(_SCALES) | set(_SE_SCALES)
    | {"setengah", "sepuluh", "sebelas", "seratus", "puluh", "belas", "ratus"}
)  # fmt: skip
_TOKEN = re.compile(r"\d[\d.,]*|[a-z]+")
_MINUS = ("-", "\u2212", "\u2013", "minus", "min ")


def _normalise(text: str) -> str:
    t = text.strip().lower()
    t = t.replace("\u00a0", " ").replace("\u202f", " ")
    # Trailing ",-" / ".-" / "-" (as in "Rp1.500.000,-") and ",00" cents.
    t = re.sub(r"[.,]?-+$", "", t).strip()
    t = re.sub(r"[.,]00$", "", t) if re.search(r"\d[.,]\d{3}[.,]00$|^\d+[.,]00$", t) else t
    # Currency words: "rp", "rp.", "idr", "rupiah" anywhere.
    t = re.sub(r"\brp\.?|\bidr\b|\brupiah\b", " ", t)
    t = re.sub(r"(?<=\d)\s+(?=\d{3}\b)", "", t)  # "1 500 000" -> "1500000"
    return " ".join(t.split())


def _numeral(token: str, with_unit: bool) -> Decimal | str:
    """Digits with '.'/',' -> Decimal; 'ambiguous' or 'nonsense' when it cannot tell."""
    if token.isdigit():
        return Decimal(token)
    seps = [c for c in token if c in ".,"]
    if token[-1] in ".,":
        return "nonsense"
    if len(set(seps)) == 2:
        # "1.500.000,5" (Indonesian) or "1,500,000.5" (English): the last one is the decimal.
        dec = seps[-1]
        group = "," if dec == "." else "."
        whole, _, frac = token.rpartition(dec)
        if dec in whole or not _grouped(whole, group):
            return "nonsense"
        return Decimal(whole.replace(group, "") + "." + frac)
    sep = seps[0]
    parts = token.split(sep)
    if len(parts) > 2:
        return Decimal("".join(parts)) if _grouped(token, sep) else "nonsense"
    whole, frac = parts
    if len(frac) == 3 and not (with_unit and sep == ","):
        return Decimal(whole + frac)  # "1.500" = 1500 ("1,5 jt" stays a decimal)
    if with_unit:
        return Decimal(whole + "." + frac)
    return "ambiguous"


def _grouped(text: str, sep: str) -> bool:
    parts = text.split(sep)
    return 1 <= len(parts[0]) <= 3 and all(len(p) == 3 and p.isdigit() for p in parts[1:])


def _words_value(tokens: list[str]) -> Decimal | None:
    """Evaluate number words/digits with scales; None if the tokens do not make a number."""
    total = Decimal(0)
    current = Decimal(0)  # the part below one thousand being built ("lima ratus")
    pending: Decimal | None = None  # a digit word or numeral waiting for puluh/ratus/scale
    last_scale = None
    seen = False
    bare = None  # the last token when it is a plain numeral ("500" in "1jt500")
    for tok in tokens:
        seen = True
        bare = tok if tok.isdigit() else None
        if tok[0].isdigit():
            if pending is not None:
                return None
            value = _numeral(tok, with_unit=True)
            if isinstance(value, str):
                return None
            pending = value
        elif tok in _DIGITS:
            if pending is not None:
                return None
            pending = Decimal(_DIGITS[tok])
        elif tok == "setengah":
            pending = (pending or Decimal(0)) + Decimal("0.5")
        elif tok == "sepuluh":
            current += 10
        elif tok == "sebelas":
            current += 11
        elif tok == "seratus":
            current += 100
        elif tok == "puluh":
            if pending is None:
                return None
            current += pending * 10
            pending = None
        elif tok == "belas":
            if pending is None:
                return None
            current += 10 + pending
            pending = None
        elif tok == "ratus":
            if pending is None:
                return None
            current += pending * 100
            pending = None
        elif tok in _SE_SCALES or tok in _SCALES:
            scale = _SE_SCALES.get(tok) or _SCALES[tok]
            group = current + (pending or 0)
            if tok in _SE_SCALES:
                if group:
                    return None
                group = Decimal(1)
            if group == 0 or (last_scale is not None and scale >= last_scale):
                return None
            total += group * scale
            current, pending, last_scale = Decimal(0), None, scale
        else:
            return None
    if not seen:
        return None
    if (
        bare is not None and len(bare) <= 3 and not current
        and last_scale is not None and last_scale >= 1_000_000
    ):  # fmt: skip
        # "1jt500", "1 jt 5", "2jt250": the digits after the scale are the next group down,
        # read from the left as people say them (1jt5 = 1,5 jt), not a handful of rupiah.
        return total + Decimal(bare.ljust(3, "0")) * (last_scale // 1000)
    return total + current + (pending or 0)


def parse_amount(text: str, ceiling: int = DEFAULT_CEILING) -> ParseResult:
    """Read an amount of rupiah as people write it; see the module docstring."""
    raw = text or ""
    t = _normalise(raw)
    if not t:
        if raw.strip():
            return AmountError("nonsense")
        return AmountError("empty")
    if t.startswith(_MINUS) or re.match(r"^(rp\.?\s*)?[-\u2212]", raw.strip().lower()):
        return AmountError("negative")
    tokens = _TOKEN.findall(t)
    leftover = _TOKEN.sub("", t).replace(" ", "")
    if not tokens:
        return AmountError("nonsense")
    if leftover:
        # Emoji, punctuation, '+' ... around the number.
        return AmountError("letters" if any(c.isalpha() for c in leftover) else "nonsense")
    value: Decimal | None
    if len(tokens) == 1 and tokens[0][0].isdigit():
        numeral = _numeral(tokens[0], with_unit=False)
        if numeral == "ambiguous":
            return _ambiguous(tokens[0], ceiling)
        if isinstance(numeral, str):
            return AmountError("nonsense")
        value = numeral
    else:
        value = _words_value(tokens)
        if value is None:
            unknown = any(not tok[0].isdigit() and tok not in _KNOWN_WORDS for tok in tokens)
            return AmountError("letters" if unknown else "nonsense")
    if value != value.to_integral_value():
        return AmountError("fraction")
    amount = int(value)
    if amount > ceiling:
        return AmountError("too_large", ceiling=ceiling)
    return Amount(amount)


_LOSS = re.compile(
    r"^\s*(rugi|minus|min|kurang|tekor|nombok)\b\s*|^\s*(rp\.?\s*)?[-\u2212\u2013]\s*",
    re.IGNORECASE,
)


def parse_signed_amount(text: str, ceiling: int = DEFAULT_CEILING) -> ParseResult:
    """Like parse_amount, but a loss may be written "rugi 200rb", "-200rb" or "minus 200rb"
    (a negative Amount); used where a profit is typed."""
    m = _LOSS.match(text or "")
    if m is None:
        return parse_amount(text, ceiling)
    rest = (text or "")[m.end() :]
    parsed = parse_amount(rest, ceiling)
    if isinstance(parsed, Amount):
        return Amount(-parsed.value)
    if isinstance(parsed, AmbiguousAmount):
        return AmbiguousAmount(parsed.text, tuple(-c for c in parsed.choices))
    return parsed


_PLAIN = re.compile(
    r"^\s*(rp\.?\s*)?[-\u2212]?\s*\d[\d.,]*\s*(rb|ribu|rebu|ewu|k|jt|juta|jeti)?\s*[.,]?-?\s*$",
    re.IGNORECASE,
)


def looks_different(text: str, value: int) -> bool:
    """True when the typed text does not plainly show `value`: such an amount is echoed back
    for confirmation ("1jt500" -> Rp1.500.000, "sejuta dua ratus" -> Rp1.200.000). Plain
    figures ("1.500.000", "Rp 750000") and one number with one unit ("750rb", "1,5 jt") are
    not echoed."""
    if _PLAIN.match(text or ""):
        return False
    return re.sub(r"\D", "", text or "") != str(abs(value))


def format_signed(amount: int | None, loss_word: str = "rugi") -> str:
    """A profit for people: 'Rp150.000', or 'rugi Rp150.000' when negative."""
    if amount is None:
        return "-"
    if amount < 0:
        return f"{loss_word} {format_rupiah(-amount)}"
    return format_rupiah(amount)


def _ambiguous(token: str, ceiling: int) -> ParseResult:
    try:
        number = Decimal(token.replace(",", "."))
    except InvalidOperation:  # pragma: no cover - the token is digits and one separator
        return AmountError("nonsense")
    choices = []
    for scale in (1_000_000, 1_000):
        value = number * scale
        if value == value.to_integral_value() and value <= ceiling:
            choices.append(int(value))
    if not choices:
        return AmountError("too_large" if number * 1000 > ceiling else "fraction", ceiling=ceiling)
    return AmbiguousAmount(token, tuple(choices))
