"""`pendamping migrate [--status]`."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
from pathlib import Path

from bot.db import Database, discover_migrations, is_postgres, migrate, migration_status


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "migrate",
        help="bring the database schema up to date",
        description="Apply pending migrations in order (each in one transaction).",
    )
    p.add_argument(
        "--status",
        action="store_true",
        help="only list each migration as applied or pending; changes nothing",
    )
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from bot.cli import settings_from

    settings = settings_from(args)
    if args.status:
        lines = asyncio.run(_status(settings.database))
    else:
        lines = asyncio.run(_migrate(settings.database))
    print("\n".join(lines))
    return 0


async def _status(path: str) -> list[str]:
    migrations = discover_migrations()
    if not is_postgres(path) and not Path(path).exists():
        # Read-only: a missing database is reported, never created.
        return [f"{m.name} pending" for m in migrations] + [f"(database {path} does not exist yet)"]
    db = await Database.open(path, readonly=True)
    try:
        states = await migration_status(db, migrations)
    finally:
        await db.close()
    return [
        f"{s.name} applied {s.applied_at}" if s.applied_at else f"{s.name} pending" for s in states
    ]


def _applying(name: str) -> None:
    print(f"applying {name}", file=sys.stderr, flush=True)


async def _migrate(path: str) -> list[str]:
    db = await Database.open(path)
    try:
        applied = await migrate(db, dt.datetime.now(dt.UTC), on_progress=_applying)
    finally:
        await db.close()
    if not applied:
        return ["database is up to date"]
    return [f"applied {name}" for name in applied]
