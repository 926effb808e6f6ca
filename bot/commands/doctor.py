"""`pendamping doctor`: OK / WARN / FAIL health lines; exit 1 on any FAIL."""

from __future__ import annotations

import argparse
import asyncio

from bot.config import ConfigError
from bot.services.doctor import FAIL, Check, run_checks


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "doctor",
        help="check config, token, database, migrations, disk, backups, outbox, ticks",
        description=(
            "Print one OK / WARN / FAIL line per check with what to do. Read-only: never "
            "creates or migrates the database. Exit 1 if any check FAILs, else 0."
        ),
    )
    p.add_argument("--now", help=argparse.SUPPRESS)  # tests: judge ages at this ISO time
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from bot.cli import parse_now, settings_from

    try:
        settings = settings_from(args)
    except ConfigError as exc:
        print(Check(FAIL, "config", str(exc), "fix that key (see pendamping.example.toml)").line())
        return 1
    now = parse_now(args.now, settings)
    checks = [Check("OK", "config", settings.source or "built-in defaults (no config file)")]
    checks += asyncio.run(run_checks(settings, now))
    for check in checks:
        print(check.line())
    return 1 if any(c.status == FAIL for c in checks) else 0
