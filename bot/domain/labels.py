"""Indonesian labels for the codes stored in the database, for files read by people (the export).

One table per code family; chat texts keep their own (often shorter, bilingual) wording in
templates/. `label(table, code)` gives the label, or the code itself when it is not known, so a
new code never breaks a file. Times: `wib_text` turns a stored UTC ISO time into
'2024-03-05 10:00 WIB' (the export names the zone in every value, see docs/decisions.md).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

from bot.domain.scoring import BAND_LABELS

WIB = ZoneInfo("Asia/Jakarta")

RECIPIENT_STATUS = {
    "active": "Aktif",
    "paused": "Ditunda",
    "graduated": "Lulus graduasi",
    "ended": "Berhenti",
}
ROLE = {
    "recipient": "Penerima",
    "facilitator": "Pendamping",
    "staff": "Staf Dinsos",
    "admin": "Admin",
}
FLAG_KIND = {
    "mismatch_income": "Untung beda antara penerima dan pendamping",
    "mismatch_goats": "Jumlah kambing beda antara penerima dan pendamping",
    "jump": "Untung melonjak",
    "photo_reused": "Foto dipakai ulang",
    "help_request": "Minta bantuan",
    "business_stopped": "Usaha berhenti",
    "income_drop": "Pendapatan turun",
    "no_report": "Tidak melapor",
    "goats_lost": "Kambing berkurang",
    "unreachable": "Tidak bisa dihubungi",
}
FLAG_STATUS = {"open": "Terbuka", "resolved": "Selesai"}
FLAG_FIELD = {"profit": "Untung", "goats": "Kambing", "revenue": "Omzet", "costs": "Modal"}
COMPONENT = {
    "income": "Kecukupan pendapatan",
    "stability": "Kestabilan",
    "continuity": "Kelangsungan usaha",
    "assets": "Aset produktif",
    "sources": "Sumber pendapatan",
    "savings_books": "Tabungan & pembukuan",
    "facilitator": "Penilaian pendamping",
    "reporting": "Keteraturan melapor",
    "checklist": "Daftar periksa graduasi",
}
BUSINESS_STATUS = {
    "berjalan": "Berjalan",
    "berhenti_sementara": "Berhenti sementara",
    "tutup": "Tutup",
}
GENDER = {"L": "Laki-laki", "P": "Perempuan"}
BAND = dict(BAND_LABELS)

TABLES: dict[str, Mapping[str, str]] = {
    "recipient_status": RECIPIENT_STATUS,
    "role": ROLE,
    "flag_kind": FLAG_KIND,
    "flag_status": FLAG_STATUS,
    "flag_field": FLAG_FIELD,
    "component": COMPONENT,
    "business_status": BUSINESS_STATUS,
    "gender": GENDER,
    "band": BAND,
}


def label(table: str, code: Any) -> Any:
    """The Indonesian label of CODE in TABLE; the code itself when unknown, None stays None."""
    if code is None or not isinstance(code, str):
        return code
    return TABLES[table].get(code, code)


def components_text(raw: Any) -> Any:
    """'income=30/40; savings_books=5/10' -> 'Kecukupan pendapatan 30/40; Tabungan & ...'."""
    if not isinstance(raw, str) or "=" not in raw:
        return raw
    parts = []
    for item in raw.split(";"):
        key, sep, value = item.strip().partition("=")
        parts.append(f"{COMPONENT.get(key, key)} {value}" if sep else item.strip())
    return "; ".join(parts)


def wib_text(value: Any) -> Any:
    """A stored UTC ISO time -> '2024-03-05 10:00 WIB'; a naive time is taken as UTC."""
    if not isinstance(value, str) or not value:
        return value
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return f"{moment.astimezone(WIB):%Y-%m-%d %H:%M} WIB"
