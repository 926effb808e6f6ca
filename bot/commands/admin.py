"""`pendamping admin add --telegram-id N --name NAME`: the first admin, from the CLI."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt

from bot.db import open_migrated
from bot.services.invites import InviteError, add_admin


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("admin", help="manage admin accounts", description="Admin accounts.")
    admin_sub = p.add_subparsers(dest="admin_command", metavar="ACTION", required=True)
    add = admin_sub.add_parser(
        "add",
        help="link a Telegram account as admin",
        description="Link a Telegram user id as admin (e.g. the first admin). "
        "The person finds their id by sending /start to the bot or via @userinfobot.",
    )
    add.add_argument("--telegram-id", type=int, required=True, metavar="N")
    add.add_argument("--name", required=True)
    add.set_defaults(func=_add)


def _add(args: argparse.Namespace) -> int:
    from bot.cli import UsageError, settings_from

    if args.telegram_id <= 0:
        raise UsageError("--telegram-id must be a positive Telegram user id")
    settings = settings_from(args)
    try:
        account_id = asyncio.run(_run_add(settings.database, args.telegram_id, args.name))
    except InviteError as exc:
        print(f"error: {exc}")
        return 1
    print(f"admin account {account_id} linked to Telegram id {args.telegram_id}")
    return 0


async def _run_add(path: str, telegram_id: int, name: str) -> int:
    now = dt.datetime.now(dt.UTC)
    db = await open_migrated(path, now)
    try:
        return await add_admin(db, now, telegram_id, name)
    finally:
        await db.close()
