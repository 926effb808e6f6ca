"""`pendamping run`: the bot, polling or webhook, against Telegram or any Bot API server."""

from __future__ import annotations

import argparse
import logging
import os

from bot.config import Settings
from bot.db import DatabaseError, is_postgres, write_problem
from bot.logs import setup_logging
from bot.runlock import acquire_run_lock, acquire_sender_lock
from bot.sandbox.core import DEFAULT_TOKEN

log = logging.getLogger("pendamping.run")

WEBHOOK_SECRET_ENV = "PENDAMPING_WEBHOOK_SECRET"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run",
        help="run the bot (polling, or webhook with --webhook-url)",
        description=(
            "Run the bot. The token comes from TELEGRAM_BOT_TOKEN. With no token and no "
            "--api-url the bot runs against an embedded local sandbox."
        ),
    )
    p.add_argument("--api-url", help="Bot API base URL, e.g. http://127.0.0.1:8081/bot")
    p.add_argument("--webhook-url", help="public HTTPS URL Telegram posts updates to")
    p.add_argument(
        "--webhook-secret",
        help=f"secret token Telegram sends with each update (default: ${WEBHOOK_SECRET_ENV};"
        " prefer the environment: a command-line flag is visible to every user in `ps`)",
    )
    p.add_argument("--listen", default="127.0.0.1", help="webhook listen address")
    p.add_argument("--port", type=int, default=8443, help="webhook listen port")
    p.add_argument(
        "--sandbox-port", type=int, default=8081, help="port of the embedded sandbox (no token)"
    )
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    # python-telegram-bot and the handlers load here, not when any other command starts
    from bot.app import build_application
    from bot.cli import UsageError, settings_from

    settings = settings_from(args)
    setup_logging(settings.log_format, settings.log_level)
    # A bot that cannot write its database would start and then fail every write: refuse now.
    problem = write_problem(settings.database)
    if problem:
        raise DatabaseError(f"cannot run: {problem[0]}; fix: {problem[1]}")
    # Held until the process ends (even SIGKILL frees it): restore refuses while the bot runs,
    # and the bot is the database's one outbox sender (`send`, `tick`, `broadcast` stand back).
    # Webhook on PostgreSQL: this may be one of several workers (bot/workers.py, docs/scaling.md):
    # they share the run lock, and whichever holds the sender lock sends; the others take over.
    workers = bool(args.webhook_url) and is_postgres(settings.database)
    _run_lock = acquire_run_lock(settings.database, shared=workers)  # noqa: F841
    if not workers:
        _sender_lock = acquire_sender_lock(settings.database, "run")  # noqa: F841
    if settings.database != ":memory:":
        # scratch folders of a bot killed while it wrote a digest file (names inside)
        from pathlib import Path

        from bot.private_files import clean_stale_tree

        clean_stale_tree(Path(settings.database).resolve().parent / "digests")
    if not settings.token and not args.api_url:
        return _run_embedded(settings, args.sandbox_port)
    token = settings.token
    if not token:
        # A sandbox started separately accepts its default token unless told otherwise.
        token = DEFAULT_TOKEN
        print(f"No TELEGRAM_BOT_TOKEN: using the sandbox token {DEFAULT_TOKEN} with {args.api_url}")
    secret = args.webhook_secret or os.environ.get(WEBHOOK_SECRET_ENV, "")
    if args.webhook_url and not secret:
        raise UsageError(
            f"--webhook-url needs a secret in {WEBHOOK_SECRET_ENV} (or --webhook-secret):"
            " Telegram sends it with each update; e.g. openssl rand -hex 32"
        )
    extra = {"sender_election": settings.database} if workers else None
    # a worker handles several chats at once (each chat in order): bot/workers.py
    from bot.workers import CONCURRENT_UPDATES

    app = build_application(
        settings, token=token, base_url=args.api_url, extra_bot_data=extra,
        concurrent_updates=CONCURRENT_UPDATES if workers else 1,
    )  # fmt: skip
    if args.webhook_url:
        # our own endpoint (bot/webhook.py): secret before body, 1 MB cap, 400 on bad input
        from bot.webhook import serve

        return serve(app, listen=args.listen, port=args.port, url_path="telegram",
                     webhook_url=args.webhook_url, secret=secret,
                     workers_database=settings.database if workers else None)  # fmt: skip
    else:
        app.run_polling()
    return 0


def _run_embedded(settings: Settings, port: int) -> int:
    """No token, no --api-url: the bot against an embedded sandbox (control API included)."""
    import asyncio

    from bot.commands.sandbox import wait_for_stop_signal
    from bot.sandbox.core import SandboxCore
    from bot.sandbox.runner import start_bot, stop_bot
    from bot.sandbox.server import SandboxServer

    async def main() -> int:
        core = SandboxCore(DEFAULT_TOKEN, bot_username=settings.bot_username)
        server = SandboxServer(core, "127.0.0.1", port)
        try:
            url = await server.start()
        except OSError as exc:
            print(f"error: cannot start the embedded sandbox on 127.0.0.1:{port}: {exc.strerror}")
            return 1
        print(
            f"No TELEGRAM_BOT_TOKEN: running against the embedded offline sandbox at {url} "
            f"(control API under {url}/_sandbox/)",
            flush=True,
        )
        print(f"Chat with the bot: pendamping sandbox chat --as 1001 --url {url}", flush=True)
        try:
            app = await start_bot(settings, token=DEFAULT_TOKEN, base_url=server.bot_base_url)
        except BaseException:
            await server.stop()
            raise
        log.info("event=sandbox_started url=%s", url)
        try:
            await wait_for_stop_signal()
        finally:
            await stop_bot(app)
            await server.stop()
        return 0

    return asyncio.run(main())
