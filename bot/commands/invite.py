"""`pendamping invite`: single-use invite links, printed and optionally as PDF cards / XLSX."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys

from bot.db import open_migrated
from bot.services.invites import InviteError, create_invites


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "invite",
        help="create single-use invite links (and printable cards)",
        description=(
            "Create single-use invite codes, printed one link per line "
            "(https://t.me/<bot_username>?start=<code>). Codes expire after "
            "invites.expiry_days. A new invite for the same person replaces the unused old one."
        ),
    )
    p.add_argument("--role", required=True, choices=["recipient", "facilitator", "staff", "admin"])
    who = p.add_mutually_exclusive_group()
    who.add_argument("--nik", action="append", metavar="NIK", help="a recipient (repeatable)")
    who.add_argument(
        "--facilitator",
        metavar="ID",
        help="with --role facilitator: that facilitator; with --role recipient: the "
        "facilitator's unlinked caseload",
    )
    p.add_argument(
        "--all-unlinked", action="store_true", help="everyone of the role not yet linked"
    )
    p.add_argument("--kecamatan", help="limit to a kecamatan; for staff: the staff's scope")
    p.add_argument("--name", help="staff/admin: who the invite is for")
    p.add_argument(
        "--out",
        action="append",
        metavar="FILE",
        help="write printable cards (.pdf, 8 per A4 page) and/or a list (.xlsx); repeatable",
    )
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from bot.cli import UsageError, settings_from

    settings = settings_from(args)
    outs = args.out or []
    for out in outs:
        if not out.lower().endswith((".pdf", ".xlsx")):
            raise UsageError(f"--out {out}: use a .pdf or .xlsx file name")
    if args.role in ("staff", "admin") and not args.name:
        raise UsageError(f"--role {args.role} needs --name")
    niks = None
    if args.nik:
        from bot.domain.nik import NikError, parse_nik

        try:
            niks = [parse_nik(n).nik for n in args.nik]
        except NikError as exc:
            raise UsageError(f"--nik: {exc}") from None
    try:
        cards, kabupaten = asyncio.run(_create(settings, args, niks))
    except InviteError as exc:
        raise UsageError(str(exc)) from None
    if not cards:
        print("nobody to invite (everyone matching is already linked)", file=sys.stderr)
        return 1
    for card in cards:
        print(card.link)
    from bot.services.invite_cards import write_pdf, write_xlsx

    for out in outs:
        if out.lower().endswith(".pdf"):
            write_pdf(out, cards, kabupaten)
        else:
            write_xlsx(out, cards)
        print(f"wrote {out}", file=sys.stderr)
    print(f"{len(cards)} invite(s), valid until {cards[0].expires_at}", file=sys.stderr)
    return 0


async def _create(settings, args, niks):
    now = dt.datetime.now(dt.UTC)
    db = await open_migrated(settings.database, now)
    try:
        from bot.services.regions import kabupaten_name

        cards = await create_invites(
            db,
            now,
            role=args.role,
            bot_username=settings.bot_username,
            expiry_days=settings.invites.expiry_days,
            niks=niks,
            facilitator_code=args.facilitator.upper() if args.facilitator else None,
            all_unlinked=args.all_unlinked,
            kecamatan=args.kecamatan,
            name=args.name,
        )
        return cards, await kabupaten_name(db)
    finally:
        await db.close()
