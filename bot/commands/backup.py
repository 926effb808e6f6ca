"""`pendamping backup OUT.db` and `pendamping restore IN.db`."""

from __future__ import annotations

import argparse
import datetime as dt

from bot.db import DatabaseError, is_postgres, pg_dump_command, pg_restore_command
from bot.services.backup import backup_database, restore_database


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "backup",
        help="write a consistent copy of the database (safe while the bot runs)",
        description=(
            "Copy the database with SQLite's online backup API into OUT (mode 0600). Safe "
            "while the bot runs; never changes the live database."
        ),
    )
    p.add_argument("out", metavar="OUT.db", help="file to write")
    p.add_argument("--force", action="store_true", help="replace OUT if it exists")
    p.set_defaults(func=_backup)

    r = sub.add_parser(
        "restore",
        help="replace the database with a backup (the bot must be stopped)",
        description=(
            "Check IN (integrity and schema version known to this version), then replace the "
            "database with it. Refuses while `pendamping run` is running. The replaced "
            "database is kept beside it as <database>.replaced-<time>."
        ),
    )
    r.add_argument("source", metavar="IN.db", help="backup file to restore")
    r.add_argument(
        "--force", action="store_true", help="replace an existing database (a copy is kept)"
    )
    r.set_defaults(func=_restore)


def _backup(args: argparse.Namespace) -> int:
    from bot.cli import settings_from

    settings = settings_from(args)
    if is_postgres(settings.database):
        raise DatabaseError(
            "a PostgreSQL database is backed up with PostgreSQL's own tool: "
            f"`{pg_dump_command(settings.database, args.out)}` (docs/operations.md, PostgreSQL)"
        )
    out = backup_database(settings.database, args.out, force=args.force)
    print(f"backup written: {out}")
    return 0


def _restore(args: argparse.Namespace) -> int:
    from bot.cli import settings_from

    settings = settings_from(args)
    if is_postgres(settings.database):
        raise DatabaseError(
            "a PostgreSQL database is restored with PostgreSQL's own tool, the bot stopped: "
            f"`{pg_restore_command(settings.database, args.source)}`; a Pendamping SQLite"
            " backup goes in with `pendamping db copy --from FILE --to URL --force`"
        )
    result = restore_database(
        settings.database, args.source, dt.datetime.now(dt.UTC), force=args.force
    )
    print(f"restored {args.source} into {settings.database}")
    print(f"migrations in the backup: {', '.join(result.check.applied)}")
    if result.check.pending:
        print(
            f"pending migrations: {', '.join(result.check.pending)} "
            "(applied when the bot starts, or run `pendamping migrate`)"
        )
    if result.replaced_copy:
        print(f"the replaced database was kept as {result.replaced_copy}")
    return 0
