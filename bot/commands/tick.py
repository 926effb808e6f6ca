"""`pendamping tick [--now ISO-TIME] [--dry-run]`: one pass of the cycle, then send what is due."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt

from bot.config import Settings
from bot.runlock import SenderLockHeld


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "tick",
        help="one pass of the monthly cycle: plan reminders/escalations, send the outbox",
        description=(
            "Compute what the cycle owes at NOW (default: the current time) and the digests "
            "due then (weekly, monthly at close), put it into the outbox, and send what is "
            "due (needs TELEGRAM_BOT_TOKEN). Safe to run any number of times: each message "
            "is planned once. For cron and tests."
        ),
    )
    p.add_argument(
        "--now",
        metavar="ISO-TIME",
        help="the time to run at, e.g. 2024-02-05T08:00 (no offset = Asia/Jakarta)",
    )
    p.add_argument("--dry-run", action="store_true", help="show the plan; write and send nothing")
    p.add_argument("--api-url", help="Bot API base URL, e.g. http://127.0.0.1:8081/bot")
    p.add_argument(
        "--linger",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="keep sending retries that fall due within this many seconds (default 10)",
    )
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from bot.cli import settings_from

    settings = settings_from(args)
    from bot.cli import parse_now

    now = parse_now(args.now, settings)
    return asyncio.run(_tick(settings, now, args))


async def _tick(settings: Settings, now: dt.datetime, args: argparse.Namespace) -> int:
    from bot.db import open_migrated
    from bot.services.cycle import tick

    db = await open_migrated(settings.database, now)
    try:
        result = await tick(db, settings, now, dry_run=args.dry_run)
        for line in result.lines(settings.tz):
            print(line)
        n = len(result.planned)
        if not args.dry_run:  # digests due now (weekly, monthly at close)
            from bot.services.digest_schedule import plan_digests

            digests = await plan_digests(db, settings, now)
            for line in digests.lines():
                print(line)
            n += sum(d.parts for d in digests.planned)
        if args.dry_run:
            print(f"{n} planned (dry run: nothing written, nothing sent)")
            return 0
        from bot.services.outbox import clear_settled_texts

        await clear_settled_texts(db, now, settings.outbox.keep_text_hours)
        if not settings.token:
            print(f"{n} planned, not sent (no token)")
            return 0
        print(f"{n} planned")
        try:
            stats = await send_outbox(db, settings, args.api_url,
                                      fixed_now=now if args.now else None,
                                      linger=args.linger)  # fmt: skip
        except SenderLockHeld as exc:
            print(f"{n} planned, {exc}")
            return 0
        for line in stats.lines:
            print(f"  {line}")
        print(
            f"sent {stats.sent}, failed {stats.failed}, unreachable {stats.unreachable}, "
            f"retrying later {stats.retried}, 429 answers {stats.rate_limited}"
            + (f", {stats.recovered} resent after an interruption" if stats.recovered else "")
        )
        return 1 if stats.failed else 0
    finally:
        await db.close()


async def send_outbox(db, settings: Settings, api_url: str | None, *, fixed_now=None,  # noqa: ANN001
                      linger: float = 10.0, on_progress=None):  # noqa: ANN001,ANN201  # fmt: skip
    """Drain the outbox with a Bot of its own (no PTB rate limiter: the sender paces itself).

    Holds the database's sender lock while it sends: SenderLockHeld (nothing sent, nothing
    touched) when the bot or another command is sending."""
    from bot.runlock import acquire_sender_lock
    from bot.services.outbox import OutboxSender, make_sender_bot

    lock = acquire_sender_lock(db.path, "send")
    try:
        bot = make_sender_bot(settings, api_url)
        await bot.initialize()
        try:
            clock = (lambda: fixed_now) if fixed_now else (lambda: dt.datetime.now(dt.UTC))
            sender = OutboxSender(db, bot, settings, clock)
            return await sender.drain(linger_seconds=linger)
        finally:
            await bot.shutdown()
    finally:
        if lock is not None:
            lock.release()
