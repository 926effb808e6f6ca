"""`pendamping graduates --out FILE`: approved graduates for the assistance register."""

from __future__ import annotations

import argparse
import asyncio
import csv
import datetime as dt
from pathlib import Path

from bot.db import open_migrated
from bot.private_files import private_file
from bot.services.followup import EXPORT_COLUMNS as FOLLOWUP_COLUMNS
from bot.services.followup import with_followup
from bot.services.graduation import approved_graduates

COLUMNS = [
    ("name", "Nama"),
    ("nik", "NIK"),
    ("desa", "Desa"),
    ("kecamatan", "Kecamatan"),
    ("decision_date", "Tanggal keputusan"),
    ("approver", "Disetujui oleh"),
    ("score", "Skor"),
    ("model_version", "Versi model"),
    ("period", "Periode skor"),
    ("reason", "Alasan"),
    ("receives_pkh", "Penerima PKH"),  # the assistance the decision ends (register)
    ("receives_sembako", "Penerima sembako"),
    ("welfare_decile", "Desil"),
    # after graduation: the +3/+6 month check-ins' answers and a reopening of mentoring
    *FOLLOWUP_COLUMNS,
]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "graduates",
        help="export approved graduates (for DTSEN/SIKS-NG updates)",
        description=(
            "Write the approved graduates (name, full NIK, desa, decision date, approver, score "
            "and model version) to an .xlsx or .csv file (mode 0600: it holds full NIKs)."
        ),
    )
    p.add_argument("--out", required=True, help="output file, .xlsx or .csv")
    p.add_argument("--kecamatan", help="only this kecamatan code, e.g. 33.28.06")
    p.add_argument("--since", help="only decisions on or after this date (YYYY-MM-DD)")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from bot.cli import UsageError, settings_from

    out = Path(args.out)
    if out.suffix.lower() not in (".xlsx", ".csv"):
        raise UsageError("--out must end in .xlsx or .csv")
    if args.since:
        try:
            dt.date.fromisoformat(args.since)
        except ValueError:
            raise UsageError(f"--since must be a date YYYY-MM-DD, not {args.since!r}") from None
    if not out.parent.exists():
        raise UsageError(f"folder {out.parent} does not exist")
    settings = settings_from(args)
    rows = asyncio.run(_load(settings.database, args.kecamatan, args.since))
    _write(out, rows)
    print(f"{len(rows)} approved graduates written to {out}")
    return 0


async def _load(path: str, kecamatan: str | None, since: str | None) -> list[dict]:
    db = await open_migrated(path, dt.datetime.now(dt.UTC))
    try:
        return await with_followup(db, await approved_graduates(db, kecamatan, since))
    finally:
        await db.close()


def _write(out: Path, rows: list[dict]) -> None:
    private_file(out)  # 0600 whatever the umask (or the mode of an older file)
    header = [label for _, label in COLUMNS]
    if out.suffix.lower() == ".csv":
        with out.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(header)
            for r in rows:
                writer.writerow([r[key] for key, _ in COLUMNS])
        return
    from openpyxl import Workbook
    from openpyxl.worksheet.worksheet import Worksheet

    wb = Workbook()
    ws = wb.active
    assert isinstance(ws, Worksheet)  # a new workbook opens on its one worksheet
    ws.title = "Graduasi"
    ws.append(header)
    for r in rows:
        ws.append([r[key] for key, _ in COLUMNS])
    for cell in ws["B"][1:]:
        cell.number_format = "@"  # NIK as text, never 3.33E+15
    wb.save(out)
