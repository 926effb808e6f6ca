"""`pendamping export --period YYYY-MM --out FILE.xlsx|.csv [--kecamatan K] [--full-nik]`."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import sys
from pathlib import Path

from bot.db import Database, is_postgres
from bot.domain.digest import Scope
from bot.domain.money import format_number


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help="write a period's recipients, reports, visits and flags to .xlsx or .csv",
        description=(
            "Write the export of one reporting period: sheets penerima (recipients with their "
            "latest report and score), laporan (the period's reports), kunjungan (visits in "
            "the period's month) and tanda (flags). A .csv file gets the recipients; the other "
            "sheets go to FILE-laporan.csv, FILE-kunjungan.csv and FILE-tanda.csv beside it. "
            "NIK is masked unless --full-nik is given."
        ),
    )
    p.add_argument("--period", required=True, metavar="YYYY-MM", help="the reporting period")
    p.add_argument(
        "--out", required=True, metavar="FILE", help="output file ending in .xlsx or .csv"
    )
    p.add_argument(
        "--kecamatan",
        action="append",
        metavar="NAME",
        help="only this kecamatan (name or code); repeat or separate with commas for several",
    )
    p.add_argument(
        "--full-nik",
        action="store_true",
        help="write the full NIK (as text); the file is then readable by its owner only",
    )
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from bot.cli import UsageError, settings_from
    from bot.export import ExportError, export_format

    settings = settings_from(args)
    out = Path(args.out)
    try:
        export_format(out)
    except ExportError as exc:
        raise UsageError(str(exc)) from None
    if not out.parent.exists():
        raise UsageError(f"folder {out.parent} does not exist")
    if not is_postgres(settings.database) and not Path(settings.database).exists():
        raise UsageError(
            f"database {settings.database} does not exist; run `pendamping migrate` and "
            "import recipients first"
        )
    names = [n.strip() for text in args.kecamatan or () for n in text.split(",") if n.strip()]
    return asyncio.run(
        _export(settings.database, args.period, out, names, args.full_nik, settings.tz)
    )


def _progress_printer():
    tty = sys.stderr.isatty()

    def show(rows: int) -> None:
        if tty:
            print(f"\rexporting: {format_number(rows)} rows", end="", file=sys.stderr)
        else:
            print(f"exporting: {format_number(rows)} rows", file=sys.stderr)
        sys.stderr.flush()

    return show, tty


async def _export(
    db_path: str, period: str, out: Path, names: list[str], full_nik: bool, tz: dt.tzinfo
) -> int:
    from bot.cli import UsageError
    from bot.services.digest_data import (
        RegionError,
        count_recipients,
        period_problem,
        resolve_kecamatan,
        write_period_export,
    )

    db = await Database.open(db_path, readonly=True)
    try:
        scope = Scope()
        label = "Kabupaten"
        if names:
            try:
                found = await resolve_kecamatan(db, names)
            except RegionError as exc:
                raise UsageError(str(exc)) from None
            scope = Scope(frozenset(k.code for k in found))
            label = ", ".join(k.name for k in found)
        if await count_recipients(db, scope) == 0:
            where = f"kecamatan {label}" if names else "the database"
            raise UsageError(f"there are no recipients in {where}; nothing to export")
        problem = await period_problem(db, period, dt.datetime.now(dt.UTC), tz)
        if problem:
            raise UsageError(problem)
        show, tty = _progress_printer()
        result = await write_period_export(db, period, out, scope, full_nik=full_nik, progress=show)
    finally:
        await db.close()
    if tty:
        print(file=sys.stderr)
    if full_nik:
        for path in result.paths:
            os.chmod(path, 0o600)
        print("note: this export holds full NIKs; keep it safe", file=sys.stderr)
    counts = ", ".join(f"{name} {n}" for name, n in result.counts.items())
    print(f"period {period}, {label}: {counts}")
    if not result.has_reports:
        print(f"no reports for period {period} yet")
    for path in result.paths:
        print(f"wrote {path}")
    return 0
