"""`pendamping`: the command line. One sub-command per job; exit 0 ok, 1 failure, 2 usage."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Sequence

from bot import __version__
from bot.commands import accounts as accounts_cmd
from bot.commands import admin as admin_cmd
from bot.commands import backup as backup_cmd
from bot.commands import broadcast as broadcast_cmd
from bot.commands import db as db_cmd
from bot.commands import demo as demo_cmd
from bot.commands import doctor as doctor_cmd
from bot.commands import export as export_cmd
from bot.commands import graduates as graduates_cmd
from bot.commands import importer as import_cmd
from bot.commands import invite as invite_cmd
from bot.commands import migrate as migrate_cmd
from bot.commands import person as person_cmd
from bot.commands import regions as regions_cmd
from bot.commands import retention as retention_cmd
from bot.commands import run as run_cmd
from bot.commands import sandbox as sandbox_cmd
from bot.commands import score as score_cmd
from bot.commands import send as send_cmd
from bot.commands import tick as tick_cmd
from bot.config import ConfigError, Settings, load_settings
from bot.db import DatabaseError

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2

# Each module exposes register(subparsers); order here is the order in --help.
COMMAND_MODULES = [
    demo_cmd,
    run_cmd,
    migrate_cmd,
    sandbox_cmd,
    # operations
    backup_cmd,
    db_cmd,
    doctor_cmd,
    person_cmd,
    retention_cmd,
    # registry and onboarding
    import_cmd,
    regions_cmd,
    invite_cmd,
    admin_cmd,
    accounts_cmd,
    # digests and exports
    export_cmd,
    # scoring and graduation
    score_cmd,
    graduates_cmd,
    # cycle, outbox, broadcasts
    tick_cmd,
    send_cmd,
    broadcast_cmd,
]


class UsageError(Exception):
    """Wrong input from the person at the terminal; exit 2 with one line."""


def parse_now(text: str | None, settings: Settings) -> dt.datetime:
    """--now ISO time -> aware UTC; a time without offset is local (Asia/Jakarta)."""
    if not text:
        return dt.datetime.now(dt.UTC)
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--now {text!r} is not an ISO time like 2024-02-05T08:00") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=settings.tz)
    return value.astimezone(dt.UTC)


def settings_from(args: argparse.Namespace) -> Settings:
    return load_settings(getattr(args, "config", None))


def _version(args: argparse.Namespace) -> int:
    print(f"pendamping {__version__}")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pendamping",
        description="Pendamping: mentoring bot of a Dinas Sosial (Kabupaten Tegal first).",
    )
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="config file (default: $PENDAMPING_CONFIG or ./pendamping.toml)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(sub)
    version = sub.add_parser("version", help="print the version")
    version.set_defaults(func=_version)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(args.func(args) or EXIT_OK)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except DatabaseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return EXIT_FAILURE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
