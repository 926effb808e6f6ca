"""`pendamping person show|erase --nik ...`: data-subject requests (UU 27/2022)."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import sys
from typing import Any

from bot.db import Database
from bot.services.persons import erase_recipient, find_recipient_id, show_person


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "person",
        help="show or erase everything held about one person (UU 27/2022)",
        description="Data-subject requests: show or erase one recipient's personal data.",
    )
    actions = p.add_subparsers(dest="person_action", metavar="ACTION")
    show = actions.add_parser(
        "show",
        help="print everything held about a person (recorded in the audit log)",
        description=(
            "Print the recipient row, region, facilitator, account and every row of every "
            "table that refers to them. Changes nothing except one audit-log entry; never "
            "migrates."
        ),
    )
    show.add_argument("--nik", required=True, help="the person's 16-digit NIK")
    show.add_argument("--json", action="store_true", help="print JSON instead of text")
    show.set_defaults(func=_show)
    erase = actions.add_parser(
        "erase",
        help="remove a person's personal data, keeping anonymous statistics",
        description=(
            "Remove name, NIK, phone, address, birth date, P3KE id, photos, free text and chat "
            "links; keep region, programme and numbers for statistics. Irreversible (old "
            "backups age out by backup.keep). Recorded in the audit log with the NIK masked."
        ),
    )
    erase.add_argument("--nik", required=True, help="the person's 16-digit NIK")
    erase.add_argument(
        "--reason", required=True, help="why (e.g. 'permintaan subjek data 2024-05-01')"
    )
    erase.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    erase.set_defaults(func=_erase)
    p.set_defaults(func=lambda args: _usage(p))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _show(args: argparse.Namespace) -> int:
    from bot.cli import settings_from

    settings = settings_from(args)
    record = asyncio.run(_show_async(settings.database, args.nik))
    if args.json:
        print(json.dumps(record, ensure_ascii=False, indent=2, default=str))
        return 0
    for section, content in record.items():
        rows = content if isinstance(content, list) else [content]
        print(f"== {section} ({len(rows)})")
        for row in rows:
            for key, value in (row or {}).items():
                print(f"  {key}: {value}")
            if isinstance(content, list):
                print("  --")
    return 0


async def _show_async(path: str, nik: str) -> dict[str, Any]:
    db = await Database.open(path)
    try:
        await find_recipient_id(db, nik)
        rec = await show_person(db, nik, dt.datetime.now(dt.UTC))
    finally:
        await db.close()
    out: dict[str, Any] = {
        "recipient": rec.recipient,
        "region": rec.region,
        "facilitator": rec.facilitator,
    }
    for table, rows in rec.related.items():
        out[table] = rows
    out["audit_log"] = rec.audit
    return out


def _erase(args: argparse.Namespace) -> int:
    from bot.cli import UsageError, settings_from

    settings = settings_from(args)
    if not args.reason.strip():
        raise UsageError("--reason must say why")
    if not args.yes:
        if not sys.stdin.isatty():
            raise UsageError("erasing cannot be undone: add --yes to confirm")
        answer = input("Erasing cannot be undone. Type ERASE to go on: ")
        if answer.strip() != "ERASE":
            print("nothing erased")
            return 1
    result = asyncio.run(_erase_async(settings.database, args.nik, args.reason, settings.files_dir))
    print(f"erased person {result.recipient_id} (NIK {result.masked_nik})")
    for table, n in sorted(result.deleted.items()):
        print(f"  deleted {n} rows from {table}")
    for table, n in sorted(result.scrubbed.items()):
        print(f"  cleared personal fields in {n} rows of {table}")
    if not result.compacted:
        print(
            "note: the bot was reading, so the -wal file could not be truncated yet: the data "
            "is erased from the database, but old copies may stay in the -wal file until the "
            "bot restarts (`systemctl restart pendamping`)."
        )
    return 0


async def _erase_async(path: str, nik: str, reason: str, files_dir: str = ""):  # noqa: ANN202
    db = await Database.open(path, files_dir=files_dir)
    try:
        rid = await find_recipient_id(db, nik)
        return await erase_recipient(db, rid, reason, dt.datetime.now(dt.UTC))
    finally:
        await db.close()
