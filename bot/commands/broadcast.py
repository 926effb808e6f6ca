"""`pendamping broadcast --audience ... --text-file F`: a staff broadcast from the terminal."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
from pathlib import Path

from bot.config import Settings
from bot.runlock import SenderLockHeld

AUDIENCE_HELP = (
    "recipients | facilitators | programme:NAME | kecamatan:CODE | desa:ID "
    "(e.g. 'programme:tata boga', kecamatan:33.28.10)"
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "broadcast",
        help="send an announcement to a group of recipients or facilitators",
        description=(
            "Queue one message per person of the audience (linked, reachable, not muted) in the "
            "outbox; with TELEGRAM_BOT_TOKEN also send it now and print the delivery report."
        ),
    )
    p.add_argument("--audience", required=True, help=AUDIENCE_HELP)
    p.add_argument("--text-file", required=True, metavar="FILE", help="UTF-8 text to send")
    p.add_argument("--region", metavar="KECAMATAN-CODE", help="limit to one kecamatan")
    p.add_argument("--dry-run", action="store_true", help="only count who it would reach")
    p.add_argument("--api-url", help="Bot API base URL, e.g. http://127.0.0.1:8081/bot")
    p.set_defaults(func=_run)


def _parse_audience(text: str) -> tuple[str, str | None]:
    from bot.cli import UsageError
    from bot.services.broadcasts import AUDIENCES

    kind, _, value = text.partition(":")
    kind = kind.strip()
    if kind not in AUDIENCES:
        raise UsageError(f"--audience {text!r}: use {AUDIENCE_HELP}")
    needs_value = kind in ("programme", "kecamatan", "desa")
    if needs_value and not value.strip():
        raise UsageError(f"--audience {kind} needs a value, e.g. {kind}:...")
    if not needs_value and value:
        raise UsageError(f"--audience {kind} takes no value")
    return kind, value.strip() or None


def _run(args: argparse.Namespace) -> int:
    from bot.cli import UsageError, settings_from

    settings = settings_from(args)
    audience, value = _parse_audience(args.audience)
    try:
        text = Path(args.text_file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read --text-file {args.text_file}: {exc}") from None
    return asyncio.run(_broadcast(settings, audience, value, text, args))


async def _broadcast(settings: Settings, audience, value, text, args) -> int:  # noqa: ANN001
    from bot.cli import UsageError
    from bot.commands.tick import send_outbox
    from bot.db import open_migrated
    from bot.services import broadcasts

    now = dt.datetime.now(dt.UTC)
    db = await open_migrated(settings.database, now)
    try:
        scope_actor = None
        try:
            preview = await broadcasts.start_draft(
                db, settings, scope_actor, audience, value, now, text, region=args.region
            )
        except broadcasts.BroadcastError as exc:
            raise UsageError(f"broadcast refused: {exc}") from None
        print(f"audience: {preview.label}: {preview.count} people")
        if args.dry_run:
            await broadcasts.cancel(db, None, preview.broadcast_id)
            print("dry run: nothing queued")
            return 0
        n = await broadcasts.queue(db, settings, None, preview.broadcast_id, now)
        print(f"broadcast #{preview.broadcast_id} queued for {n} people")
        if not settings.token:
            print(f"{n} planned, not sent (no token): the running bot sends them")
            return 0
        try:
            await send_outbox(db, settings, args.api_url)
        except SenderLockHeld as exc:
            print(f"{n} queued, {exc}")
            return 0
        p = await broadcasts.progress(db, preview.broadcast_id)
        print(f"sent {p.sent}, failed {p.failed}, unreachable {p.unreachable}, waiting {p.pending}")
        return 1 if p.failed or p.pending else 0
    finally:
        await db.close()
