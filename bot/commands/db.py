"""`pendamping db copy --from SRC --to DST [--force]`: SQLite <-> PostgreSQL, checked."""

from __future__ import annotations

import argparse
import asyncio
import sys

from bot.db import Database, is_postgres
from bot.services.dbcopy import CopyRefused, CopyResult, copy_database

EXIT_DIFFERENT = 1
EXIT_REFUSED = 2


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "db",
        help="copy the whole database between SQLite and PostgreSQL",
        description="Database moves between engines (docs/operations.md, PostgreSQL).",
    )
    actions = p.add_subparsers(dest="db_action", metavar="ACTION")
    copy = actions.add_parser(
        "copy",
        help="copy every table of SRC into an empty DST and compare both",
        description=(
            "Copy every row of SRC into DST (a SQLite file or a postgresql:// URL each; DST "
            "is migrated first), in one transaction of DST, then compare row counts and a "
            "checksum of every table. Exit 1 on any difference, 2 when DST already holds "
            "data (unless --force) or the bot runs on SRC. Stop the bot before copying."
        ),
    )
    copy.add_argument("--from", dest="source", required=True, metavar="SRC")
    copy.add_argument("--to", dest="target", required=True, metavar="DST")
    copy.add_argument(
        "--force", action="store_true", help="replace whatever DST holds (inside the copy)"
    )
    for end, name in (("from", "SRC"), ("to", "DST")):
        copy.add_argument(
            f"--{end}-schema",
            metavar="SCHEMA",
            help=f"{name} is one kabupaten's schema on a shared PostgreSQL database (e.g."
            " kab_tegal; made when missing); see database_schema in pendamping.example.toml",
        )
    copy.set_defaults(func=_copy)
    p.set_defaults(func=lambda args: _usage(p))


def _usage(p: argparse.ArgumentParser) -> int:
    p.print_help(sys.stderr)
    return EXIT_REFUSED


def label(target: str) -> str:
    """How a database is named on screen (a URL's password never shows)."""
    if is_postgres(target):
        from bot.db.postgres import describe

        return describe(target)
    return target


def _copy(args: argparse.Namespace) -> int:
    from bot.cli import UsageError

    for end in ("from", "to"):
        schema = getattr(args, f"{end}_schema")
        attr = "source" if end == "from" else "target"
        if schema:
            from bot.db.pgschema import schema_problem, with_schema

            if not is_postgres(getattr(args, attr)):
                raise UsageError(f"--{end}-schema needs a postgresql:// URL in --{end}")
            problem = schema_problem(schema)
            if problem:
                raise UsageError(f"--{end}-schema: {problem}")
            setattr(args, attr, with_schema(getattr(args, attr), schema))
    if args.source == args.target:
        raise UsageError("--from and --to name the same database")
    try:
        result = asyncio.run(_copy_async(args.source, args.target, args.force))
    except CopyRefused as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    if result.differences:
        for t in result.differences:
            print(
                f"DIFFERENT {t.table}: {t.source_rows} rows -> {t.target_rows} rows,"
                f" checksum {t.source_sum[:16]} -> {t.target_sum[:16]}",
                file=sys.stderr,
            )
        print(
            f"not copied: {len(result.differences)} tables differ after the copy; it was rolled"
            f" back and {label(args.target)} is as it was",
            file=sys.stderr,
        )
        return EXIT_DIFFERENT
    print(
        f"copied {len(result.tables)} tables, {result.rows} rows:"
        f" {label(args.source)} -> {label(args.target)}"
    )
    print("checked: row count and checksum equal in every table")
    return 0


async def _copy_async(source: str, target: str, force: bool) -> CopyResult:
    from bot.runlock import is_locked

    if not is_postgres(source) and source != ":memory:":
        from pathlib import Path

        if not Path(source).exists():
            raise CopyRefused(f"database {source} does not exist")
    holder = is_locked(source)
    if holder:
        raise CopyRefused(f"{label(source)} is in use by {holder}: stop the bot before copying")
    src = await Database.open(source, readonly=True)
    try:
        dst = await Database.open(target)
        try:
            return await copy_database(
                src,
                dst,
                force=force,
                progress=lambda table, n: print(f"  {table}: {n} rows", file=sys.stderr),
            )
        finally:
            await dst.close()
    finally:
        await src.close()
