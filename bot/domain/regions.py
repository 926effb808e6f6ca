"""Kecamatan and desa names of the kabupaten: matching spreadsheet spellings, and checking a
kabupaten's list of kecamatan before it is loaded. Pure."""

from __future__ import annotations

import re
from collections.abc import Mapping

from bot.domain.cells import CellError, clean_text, name_key

KABUPATEN_CODE = "33.28"
_PREFIX = re.compile(r"^(kecamatan|kec)\b\.?\s*", re.IGNORECASE)
_DESA_PREFIX = re.compile(r"^(desa|kelurahan|kel|ds)\b\.?\s*", re.IGNORECASE)


def match_kecamatan(
    value: object, kecamatan: Mapping[str, str], kabupaten: str = "Kabupaten Tegal"
) -> str:
    """Return the code of the kecamatan named by value ('  jatinegara ', 'KEC. LEBAKSIU').

    kecamatan: code -> official name (from the database); kabupaten: its name, for the reason."""
    text = clean_text(value)
    if not text:
        raise CellError("kecamatan kosong")
    key = name_key(_PREFIX.sub("", text))
    for code, name in kecamatan.items():
        if name_key(name) == key or name_key(name).replace(" ", "") == key.replace(" ", ""):
            return code
    raise CellError(f"kecamatan {text!r} tidak ada di {kabupaten}")


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


_KABUPATEN_CODE = re.compile(r"^\d{2}\.\d{2}$")
_KECAMATAN_CODE = re.compile(r"^\d{2}\.\d{2}\.\d{2}$")
_KABUPATEN_NAME = re.compile(r"^(Kabupaten|Kota) \S.*$")


def check_region_list(
    code: str, name: str, kecamatan: list[tuple[str, str]]
) -> tuple[str, str, dict[str, str], list[str]]:
    """A kabupaten's code ('33.29'), name ('Kabupaten Brebes') and kecamatan (code, name) rows
    as read from a file: (code, name, {kecamatan code: name}, problems). Problems name the row
    (counted from 2, the row after the header) and say what to write instead."""
    problems: list[str] = []
    code, name = clean_text(code), " ".join(clean_text(name).split())
    if not _KABUPATEN_CODE.match(code):
        problems.append(f"kode kabupaten {code!r}: tulis seperti 33.29 (kode Kepmendagri)")
    if not _KABUPATEN_NAME.match(name):
        problems.append(f"nama {name!r}: tulis 'Kabupaten <nama>' atau 'Kota <nama>'")
    out: dict[str, str] = {}
    seen: dict[str, int] = {}
    for row, (raw_code, raw_name) in enumerate(kecamatan, start=2):
        k_code, k_name = clean_text(raw_code), " ".join(clean_text(raw_name).split())
        if not _KECAMATAN_CODE.match(k_code) or not k_code.startswith(code + "."):
            problems.append(f"baris {row}: kode {k_code!r} bukan kode kecamatan {code}.xx")
            continue
        if not k_name:
            problems.append(f"baris {row}: nama kecamatan kosong")
            continue
        if k_code in out:
            problems.append(f"baris {row}: kode {k_code} sudah ada di baris sebelumnya")
            continue
        key = name_key(k_name)
        if key in seen:
            problems.append(f"baris {row}: {k_name} sudah ada di baris {seen[key]}")
            continue
        seen[key] = row
        out[k_code] = k_name
    if not out and not problems:
        problems.append("daftar kecamatan kosong")
    return code, name, out, problems
