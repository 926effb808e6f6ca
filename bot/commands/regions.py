"""`pendamping regions [--load FILE --kabupaten-code C --kabupaten-name N]`: the kabupaten this
database serves and its kecamatan (shown, or replaced by another kabupaten's list)."""

from __future__ import annotations

import argparse
import asyncio
import csv
import datetime as dt
import sys
from pathlib import Path

from bot.db import is_postgres, open_migrated
from bot.domain.regions import check_region_list
from bot.services.regions import Regions, RegionsRefused, current, replace_regions

EXIT_BAD_INPUT = 2
_CODE_HEADERS = ("kode", "code", "kode_kecamatan")
_NAME_HEADERS = ("nama", "name", "kecamatan", "nama_kecamatan")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "regions",
        help="show or replace the kabupaten and its kecamatan",
        description=(
            "Without --load: print the kabupaten this database serves and its kecamatan. "
            "With --load: replace them with another kabupaten's, from a CSV file with the "
            "columns kode,nama (e.g. 33.29.01,Salem); a kecamatan still used by a person is "
            "never removed (docs/operations.md, several kabupaten)."
        ),
    )
    p.add_argument("--load", metavar="FILE", help="CSV of the kecamatan: kode,nama")
    p.add_argument("--kabupaten-code", metavar="CODE", help="e.g. 33.29")
    p.add_argument("--kabupaten-name", metavar="NAME", help="e.g. 'Kabupaten Brebes'")
    p.set_defaults(func=_run)


def read_kecamatan_file(path: Path) -> list[tuple[str, str]]:
    """(code, name) rows of a CSV with a kode/nama header (comma or semicolon separated)."""
    from bot.cli import UsageError

    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    delimiter = (
        ";" if text.split("\n", 1)[0].count(";") > text.split("\n", 1)[0].count(",") else ","
    )
    rows = [
        r for r in csv.reader(text.splitlines(), delimiter=delimiter) if any(c.strip() for c in r)
    ]
    if not rows:
        raise UsageError(f"{path} is empty: write a header kode,nama and one kecamatan per row")
    header = [c.strip().lower() for c in rows[0]]
    try:
        code_at = next(i for i, h in enumerate(header) if h in _CODE_HEADERS)
        name_at = next(i for i, h in enumerate(header) if h in _NAME_HEADERS)
    except StopIteration:
        raise UsageError(
            f"{path}: the first row must name the columns kode and nama (found {rows[0]})"
        ) from None
    width = max(code_at, name_at) + 1
    return [(r[code_at], r[name_at]) for r in (row + [""] * width for row in rows[1:])]


def _show(regions: Regions) -> list[str]:
    lines = [f"{regions.name} ({regions.code}): {len(regions.kecamatan)} kecamatan"]
    lines += [f"  {code}  {name}" for code, name in regions.kecamatan.items()]
    return lines


def _run(args: argparse.Namespace) -> int:
    from bot.cli import UsageError, settings_from

    settings = settings_from(args)
    if not is_postgres(settings.database) and not Path(settings.database).exists():
        # showing (or checking a list) never creates a database as a side effect
        raise UsageError(
            f"database {settings.database} does not exist yet: `pendamping migrate` makes it"
            " (it starts as Kabupaten Tegal)"
        )
    if not args.load:
        if args.kabupaten_code or args.kabupaten_name:
            raise UsageError("--kabupaten-code and --kabupaten-name go with --load FILE")
        print("\n".join(asyncio.run(_current(settings.database))))
        return 0
    if not (args.kabupaten_code and args.kabupaten_name):
        raise UsageError("--load needs --kabupaten-code (e.g. 33.29) and --kabupaten-name")
    rows = read_kecamatan_file(Path(args.load))
    code, name, kecamatan, problems = check_region_list(
        args.kabupaten_code, args.kabupaten_name, rows
    )
    if problems:
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        print(f"not loaded: {len(problems)} problem(s); nothing changed", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        lines = asyncio.run(_replace(settings.database, code, name, kecamatan))
    except RegionsRefused as exc:
        print(f"not loaded: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print("\n".join(lines))
    return 0


async def _current(database: str) -> list[str]:
    db = await open_migrated(database)
    try:
        return _show(await current(db))
    finally:
        await db.close()


async def _replace(database: str, code: str, name: str, kecamatan: dict[str, str]) -> list[str]:
    db = await open_migrated(database)
    try:
        change = await replace_regions(db, code, name, kecamatan, dt.datetime.now(dt.UTC))
    finally:
        await db.close()
    return [
        f"loaded: {change.added} added, {change.renamed} renamed, {change.removed} removed",
        *_show(change.regions),
    ]
