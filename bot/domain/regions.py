"""Kecamatan and desa names of Kabupaten Tegal: matching spreadsheet spellings. Pure."""

from __future__ import annotations

import re
from collections.abc import Mapping

from bot.domain.cells import CellError, clean_text, name_key

KABUPATEN_CODE = "33.28"
_PREFIX = re.compile(r"^(kecamatan|kec)\b\.?\s*", re.IGNORECASE)
_DESA_PREFIX = re.compile(r"^(desa|kelurahan|kel|ds)\b\.?\s*", re.IGNORECASE)


def match_kecamatan(value: object, kecamatan: Mapping[str, str]) -> str:
    """Return the code of the kecamatan named by value ('  jatinegara ', 'KEC. LEBAKSIU').

    kecamatan: code -> official name (from the database)."""
    text = clean_text(value)
    if not text:
        raise CellError("kecamatan kosong")
    key = name_key(_PREFIX.sub("", text))
    for code, name in kecamatan.items():
        if name_key(name) == key or name_key(name).replace(" ", "") == key.replace(" ", ""):
            return code
    raise CellError(f"kecamatan {text!r} tidak ada di Kabupaten Tegal")


def desa_name(value: object) -> str:
    """'LEBAKSIU KIDUL', 'desa lebaksiu  kidul' -> 'Lebaksiu Kidul'."""
    text = _DESA_PREFIX.sub("", clean_text(value))
    if not text:
        raise CellError("desa/kelurahan kosong")
    return " ".join(w[:1].upper() + w[1:].lower() for w in text.split(" "))


def desa_code(value: object, kecamatan_code: str) -> str | None:
    """A Kepmendagri desa code '3328022001' (dots allowed) checked against its kecamatan."""
    text = clean_text(value).replace(".", "")
    if not text or text == "-":
        return None
    if not text.isdigit() or len(text) != 10:
        raise CellError(f"kode desa {clean_text(value)!r} harus 10 angka (contoh 3328022001)")
    if not text.startswith(kecamatan_code.replace(".", "")):
        raise CellError(f"kode desa {text} bukan kode desa di kecamatan ini")
    return text
