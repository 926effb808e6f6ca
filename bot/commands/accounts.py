"""`pendamping accounts list [--role R]` and `accounts revoke --telegram-id N --reason R`."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt

from bot.db import open_migrated
from bot.services.access import ROLES
from bot.services.binding import list_accounts, revoke


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "accounts",
        help="list linked Telegram accounts or revoke one",
        description="Linked Telegram accounts: list them, or revoke one (both audited).",
    )
    actions = p.add_subparsers(dest="accounts_action", metavar="ACTION", required=True)
    ls = actions.add_parser(
        "list",
        help="print every linked Telegram account with its role (audited)",
        description="Print account id, Telegram id, role, name and consent of linked accounts.",
    )
    ls.add_argument("--role", choices=ROLES, help="only this role")
    ls.set_defaults(func=_list)
    rv = actions.add_parser(
        "revoke",
        help="detach a Telegram account and refuse it from now on (audited)",
        description=(
            "Detach the Telegram account from its record (the record and its history stay; a "
            "new invite links a new account) and refuse that Telegram account from now on: its "
            "next message gets a clear answer, and it cannot open invites again."
        ),
    )
    rv.add_argument("--telegram-id", type=int, required=True, metavar="N")
    rv.add_argument("--reason", required=True, metavar="R", help="why (kept in the audit log)")
    rv.set_defaults(func=_revoke)


def _list(args: argparse.Namespace) -> int:
    from bot.cli import settings_from

    rows = asyncio.run(_run(settings_from(args).database, lambda db, now: list_accounts(
        db, now, args.role)))  # fmt: skip
    print(f"{'account':>7}  {'telegram id':>12}  {'role':<11}  {'consent':<7}  name")
    for r in rows:
        consent = "yes" if r["consent_at"] else "no"
        print(f"{r['id']:>7}  {r['telegram_user_id']:>12}  {r['role']:<11}  {consent:<7}  "
              f"{r['name']}")  # fmt: skip
    print(f"{len(rows)} account(s)")
    return 0


def _revoke(args: argparse.Namespace) -> int:
    from bot.cli import UsageError, settings_from

    if args.telegram_id <= 0:
        raise UsageError("--telegram-id must be a positive Telegram user id")
    if not args.reason.strip():
        raise UsageError("--reason must say why")
    try:
        done = asyncio.run(_run(settings_from(args).database, lambda db, now: revoke(
            db, now, args.telegram_id, args.reason)))  # fmt: skip
    except ValueError as exc:
        print(f"error: {exc}")
        return 1
    print(f"revoked Telegram account {args.telegram_id} ({done['role']}, account "
          f"{done['account_id']}); its next message is told so")  # fmt: skip
    return 0


async def _run(path: str, job):  # noqa: ANN001, ANN202
    now = dt.datetime.now(dt.UTC)
    db = await open_migrated(path, now)
    try:
        return await job(db, now)
    finally:
        await db.close()
