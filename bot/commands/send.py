"""`pendamping send`: deliver what is due in the outbox now (no planning), then exit."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "send",
        help="deliver the messages due in the outbox, then exit",
        description=(
            "Send every outbox message that is due (within Telegram's limits) and exit; "
            "resumes safely after an interruption. Needs TELEGRAM_BOT_TOKEN."
        ),
    )
    p.add_argument("--api-url", help="Bot API base URL, e.g. http://127.0.0.1:8081/bot")
    p.add_argument("--linger", type=float, default=10.0, metavar="SECONDS",
                   help="keep sending retries that fall due within this many seconds")  # fmt: skip
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from bot.cli import UsageError, settings_from

    settings = settings_from(args)
    if not settings.token:
        raise UsageError("no TELEGRAM_BOT_TOKEN: nothing can be sent")
    return asyncio.run(_send(settings, args))


async def _send(settings, args) -> int:  # noqa: ANN001
    from bot.commands.tick import send_outbox
    from bot.db import open_migrated

    db = await open_migrated(settings.database, dt.datetime.now(dt.UTC))
    try:
        stats = await send_outbox(db, settings, args.api_url, linger=args.linger)
    finally:
        await db.close()
    print(
        f"sent {stats.sent}, failed {stats.failed}, unreachable {stats.unreachable}, "
        f"retrying later {stats.retried}, 429 answers {stats.rate_limited}"
        + (f", {stats.recovered} resent after an interruption" if stats.recovered else "")
    )
    return 1 if stats.failed else 0
