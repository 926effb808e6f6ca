"""`pendamping import FILE`: recipients and facilitators from .xlsx or .csv."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import sys
from pathlib import Path

from bot.db import Database, open_migrated
from bot.logs import setup_logging
from bot.services.registry_import import ImportResult, import_registry
from bot.services.registry_source import ImportFileError, open_source
from bot.services.spreadsheets import write_workbook

REASON_COLUMN = "alasan_ditolak"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "import",
        help="import recipients (sheet penerima) and facilitators (sheet pendamping)",
        description=(
            "Import a P3KE-style .xlsx or .csv. Sheet 'pendamping' is read before 'penerima', "
            "both in one transaction; rows are upserted by NIK (facilitators by id_pendamping). "
            "Exit 0: every row accepted; 1: some rows rejected (the others kept); "
            "2: the file cannot be imported (nothing written)."
        ),
    )
    p.add_argument("file", help="the .xlsx or .csv file")
    p.add_argument("--dry-run", action="store_true", help="check and count only; write nothing")
    p.add_argument("--sheet", metavar="NAME", help="import only this sheet")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument(
        "--rejects-out",
        nargs="?",
        const="",
        metavar="FILE.xlsx",
        help="write the rejected rows, with their reason, to this workbook to fix and re-import "
        "(without FILE: <input>-ditolak.xlsx beside the input)",
    )
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from bot.cli import UsageError, settings_from

    settings = settings_from(args)
    setup_logging(settings.log_format, settings.log_level)
    if args.rejects_out == "":
        source_path = Path(args.file)
        args.rejects_out = str(source_path.with_name(f"{source_path.stem}-ditolak.xlsx"))
    if args.rejects_out and not args.rejects_out.lower().endswith(".xlsx"):
        raise UsageError("--rejects-out must name a .xlsx file")
    try:
        source = open_source(args.file, args.sheet)
    except ImportFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    def progress(count: int) -> None:
        print(f"... {count} baris diproses", file=sys.stderr, flush=True)

    try:
        result = asyncio.run(
            _import(
                settings.database,
                Path(settings.database).exists(),
                source,
                settings.programmes,
                args.dry_run,
                progress,
            )
        )
    except ImportFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        source.close()
    code = 1 if result.rejected else 0
    if args.json:
        print(json.dumps(
            {"file": Path(args.file).name, "dry_run": args.dry_run, "exit_code": code,
             "sheets": [s.as_dict() for s in result.sheets]},
            ensure_ascii=False, indent=2,
        ))  # fmt: skip
    else:
        if args.dry_run:
            print("(uji coba: tidak ada yang disimpan)")
        for sheet in result.sheets:
            print(sheet.summary())
        for sheet in result.sheets:
            for reject in sheet.rejects:
                print(f"{sheet.sheet} baris {reject.row}: {reject.reason}")
    if args.rejects_out and result.rejected:
        write_workbook(
            args.rejects_out,
            [
                (
                    s.sheet,
                    [*s.header, REASON_COLUMN],
                    (
                        [*(list(r.values) + [None] * len(s.header))[: len(s.header)], r.reason]
                        for r in s.rejects
                    ),
                )
                for s in result.sheets
                if s.rejects
            ],
        )
        if not args.json:
            print(f"baris yang ditolak ditulis ke {args.rejects_out}")
    return code


async def _import(path, exists, source, programmes, dry_run, progress) -> ImportResult:
    now = dt.datetime.now(dt.UTC)
    if dry_run:
        # Never create or change the database: read the real one if it exists,
        # else compare against an empty, migrated in-memory one.
        db = (
            await Database.open(path, readonly=True)
            if exists
            else await open_migrated(":memory:", now)
        )
    else:
        db = await open_migrated(path, now)
    try:
        return await import_registry(
            db, source, now, programmes, dry_run=dry_run, progress=progress
        )
    finally:
        await db.close()
