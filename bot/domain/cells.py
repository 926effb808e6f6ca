"""Parsers for single spreadsheet cells (import of the registry). Pure: no I/O.

Each parser takes the raw cell value (str, int, float, datetime, None) and returns a clean
value or raises CellError whose message is an Indonesian reason a clerk understands.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

# Excel's day 0 (the 1900 leap-year bug is covered by starting on 30 Dec 1899).
EXCEL_EPOCH = dt.date(1899, 12, 30)
FORMULA_PREFIXES = ("=", "+", "-", "@")


class CellError(ValueError):
    """Why a cell value cannot be used, in Indonesian."""


_SPACES = re.compile(r"\s+")


def clean_text(value: object) -> str:
    """Any cell as plain text: NBSP and runs of spaces collapsed, ends stripped.

    Formula-like text (=, +, -, @ at the start) stays text: it is never evaluated, and the
    rejects workbook writes it back as a text cell.
    """
    if value is None:
        return ""
    if type(value) is str and value.isascii() and "  " not in value and value.isprintable():
        return value.strip()  # the common case, without the full normalisation below
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = unicodedata.normalize("NFC", str(value))
    text = text.replace("\u00a0", " ").replace("\u202f", " ").replace("\u200b", "")
    return _SPACES.sub(" ", text).strip()


def is_formula_like(text: str) -> bool:
    """Whether a spreadsheet would read the text as a formula (=, +, -, @ ...)."""
    return bool(text) and text.startswith(FORMULA_PREFIXES)


def name_key(value: object) -> str:
    """Comparison key for names: case-, space- and punctuation-insensitive."""
    text = clean_text(value).casefold()
    text = re.sub(r"[^0-9a-z]+", " ", text)
    return text.strip()


MAX_NAME = 100  # characters: every chat view shows names; a longer one is a data error


def parse_name(value: object, what: str) -> str:
    """A person's name: required, at most MAX_NAME characters (the reason says so)."""
    text = parse_required_text(value, what)
    if len(text) > MAX_NAME:
        raise CellError(
            f"{what} terlalu panjang ({len(text)} huruf, paling banyak {MAX_NAME}); "
            "periksa sel itu (contoh: Siti Aminah)"
        )
    return text


def parse_required_text(value: object, what: str) -> str:
    """The cleaned text; CellError('<what> kosong') when the cell is empty."""
    text = clean_text(value)
    if not text:
        raise CellError(f"{what} kosong")
    return text


# ---- phone ------------------------------------------------------------------------------


def parse_phone(value: object) -> str | None:
    """'0812-3456-7890', '+62 812 3456 7890', 81234567890 -> '6281234567890'; empty -> None."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = clean_text(value)
    if not text or text in ("-", "0"):
        return None
    digits = re.sub(r"[\s\-.()/']", "", text)
    if digits.startswith("+"):
        digits = digits[1:]
    if not digits.isdigit() or not digits.isascii():
        raise CellError(f"nomor HP {text!r} tidak dikenali (contoh: 081234567890)")
    if digits.startswith("62"):
        national = digits[2:]
    elif digits.startswith("0"):
        national = digits[1:]
    elif digits.startswith("8"):
        national = digits  # leading zero lost in a number cell
    else:
        raise CellError(f"nomor HP {text!r} tidak dikenali (contoh: 081234567890)")
    if national.startswith("0"):
        national = national[1:]
    if not national.startswith("8") or not 9 <= len(national) <= 12:
        raise CellError(f"nomor HP {text!r} tidak sah (harus nomor seluler, contoh: 081234567890)")
    return "62" + national


# ---- money ------------------------------------------------------------------------------

_MONEY_TEXT = re.compile(r"^(?:rp\.?)?\s*([0-9][0-9.\s]*)(?:,(?:-|0{1,2}))?\s*(?:,-)?$")


MAX_MONEY_DIGITS = 15  # Rp999 trillion; more digits is a typing or paste error


def parse_money_cell(value: object) -> int | None:
    """'Rp 2.500.000,-', 'Rp2.500.000,00', '2500000', 2500000 -> 2500000; empty -> None."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise CellError("nilai uang tidak dikenali")
    if isinstance(value, int):
        if value < 0:
            raise CellError("nilai uang tidak boleh negatif")
        return value
    if isinstance(value, float):
        if value < 0 or not value.is_integer():
            raise CellError(f"nilai uang {value} tidak sah (rupiah bulat, tanpa sen)")
        return int(value)
    text = clean_text(value)
    if not text or text == "-":
        return None
    m = _MONEY_TEXT.match(text.casefold())
    if not m:
        raise CellError(f"nilai uang {text!r} tidak dikenali (contoh: 2500000 atau Rp 2.500.000)")
    body = m.group(1).replace(" ", "")
    groups = body.split(".")
    if len(groups) > 1 and (not 1 <= len(groups[0]) <= 3 or any(len(g) != 3 for g in groups[1:])):
        raise CellError(f"nilai uang {text!r} tidak dikenali (titik hanya pemisah ribuan)")
    digits = "".join(groups)
    if len(digits) > MAX_MONEY_DIGITS:  # also keeps int() below Python's 4300-digit limit
        raise CellError(f"nilai uang {text[:30]!r} terlalu besar")
    return int(digits)


# ---- dates ------------------------------------------------------------------------------

_DMY = re.compile(r"^(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})$")
_YMD = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T]00:00(?::00)?)?$")


def parse_date_cell(value: object, what: str = "tanggal") -> dt.date | None:
    """dd-mm-yyyy, dd/mm/yyyy, yyyy-mm-dd, an Excel date cell or serial -> date; empty -> None.

    An impossible date (31-02-1980) is refused, never shifted."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, bool):
        raise CellError(f"{what} tidak dikenali")
    if isinstance(value, int | float):
        serial = float(value)
        if not serial.is_integer() or not 1 <= serial <= 2_958_465:
            raise CellError(f"{what} {value} tidak dikenali (tulis dd-mm-yyyy)")
        return EXCEL_EPOCH + dt.timedelta(days=int(serial))
    text = clean_text(value)
    if not text:
        return None
    if m := _DMY.match(text):
        day, month, year = (int(g) for g in m.groups())
    elif m := _YMD.match(text):
        year, month, day = (int(g) for g in m.groups())
    else:
        raise CellError(f"{what} {text!r} tidak dikenali (tulis dd-mm-yyyy, contoh 22-11-2023)")
    try:
        return dt.date(year, month, day)
    except ValueError:
        raise CellError(f"{what} {text!r} tidak ada di kalender") from None


def parse_birth_date(value: object, today: dt.date) -> dt.date | None:
    """A birth date between 1900 and today, None for an empty cell."""
    date = parse_date_cell(value, "tanggal lahir")
    if date is not None and not (dt.date(1900, 1, 1) <= date <= today):
        raise CellError(f"tanggal lahir {date:%d-%m-%Y} tidak masuk akal")
    return date


# ---- small numbers and flags ------------------------------------------------------------


def parse_small_int(value: object, what: str, low: int, high: int) -> int | None:
    """A whole number in [low, high] from a number cell or digits; words are refused."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise CellError(f"{what} harus angka")
    if isinstance(value, float):
        if not value.is_integer():
            raise CellError(f"{what} harus angka bulat")
        value = int(value)
    if isinstance(value, int):
        number = value
    else:
        text = clean_text(value)
        if not text or text == "-":
            return None
        if not text.isdigit() or not text.isascii():
            raise CellError(f"{what} {text!r} harus ditulis dengan angka (contoh: 6)")
        if len(text) > 9:  # far out of any range; int() of thousands of digits would raise
            raise CellError(f"{what} {text[:12]}... di luar batas ({low}-{high})")
        number = int(text)
    if not low <= number <= high:
        raise CellError(f"{what} {number} di luar batas ({low}-{high})")
    return number


def parse_household_size(value: object) -> int | None:
    """Household members, 1-30, None for an empty cell."""
    return parse_small_int(value, "jumlah anggota keluarga", 1, 30)


_YES = {"ya", "y", "yes", "1", "true", "benar", "iya"}
_NO = {"tidak", "tdk", "t", "no", "n", "0", "false", "bukan"}


def parse_yes_no(value: object, what: str) -> bool | None:
    """Ya/tidak (and their spellings) as a bool, None for an empty cell or '-'."""
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    text = clean_text(value).casefold()
    if not text or text == "-":
        return None
    if text in _YES:
        return True
    if text in _NO:
        return False
    raise CellError(f"{what} {clean_text(value)!r} harus Ya atau Tidak")


_GENDER = {
    "l": "L", "laki-laki": "L", "laki laki": "L", "lakilaki": "L", "pria": "L", "lk": "L",
    "p": "P", "perempuan": "P", "wanita": "P", "pr": "P",
}  # fmt: skip


def parse_gender(value: object) -> str | None:
    """'L' or 'P' from the spellings of Laki-laki/Perempuan, None for an empty cell."""
    text = clean_text(value).casefold()
    if not text or text == "-":
        return None
    if text in _GENDER:
        return _GENDER[text]
    raise CellError(f"jenis kelamin {clean_text(value)!r} harus Laki-laki atau Perempuan")


# ---- programmes -------------------------------------------------------------------------


def normalise_programme(value: object, programmes: list[str]) -> str:
    """'Tata Boga', ' TATA  boga ' -> 'tata boga' when it is one of the configured programmes."""
    key = name_key(value)
    if not key:
        raise CellError("jenis pelatihan kosong")
    for programme in programmes:
        if name_key(programme) == key:
            return programme
    raise CellError(
        f"jenis pelatihan {clean_text(value)!r} bukan program ini (pilih: {', '.join(programmes)})"
    )
