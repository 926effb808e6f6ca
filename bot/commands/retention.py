"""`pendamping retention [--now ISO] [--dry-run]`: anonymise people past the retention rule."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt

from bot.db import Database
from bot.services.persons import run_retention


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "retention",
        help="anonymise people whose mentoring ended retention.anonymise_after_years ago",
        description=(
            "Erase the personal data of recipients whose mentoring ended (graduated or "
            "ended) at least retention.anonymise_after_years ago, keeping anonymous "
            "statistics. Each is recorded in the audit log."
        ),
    )
    p.add_argument("--now", help="judge at this ISO time instead of now")
    p.add_argument("--dry-run", action="store_true", help="only list who is due; change nothing")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from bot.cli import parse_now, settings_from

    settings = settings_from(args)
    now = parse_now(args.now, settings)
    years = settings.retention.anonymise_after_years
    if years <= 0:
        print("retention is off (retention.anonymise_after_years = 0)")
        return 0
    ids = asyncio.run(_retention(settings.database, years, now, args.dry_run, settings.files_dir))
    verb = "due" if args.dry_run else "anonymised"
    print(f"{len(ids)} people {verb} (mentoring ended {years}+ years before {now.date()})")
    for rid in ids:
        print(f"  recipient {rid}")
    return 0


async def _retention(
    path: str, years: int, now: dt.datetime, dry_run: bool, files_dir: str = ""
) -> list[int]:
    db = await Database.open(path, readonly=dry_run, files_dir=files_dir)
    try:
        return await run_retention(db, years, now, dry_run=dry_run)
    finally:
        await db.close()
